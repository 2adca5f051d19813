def dot_loop(n):
    s = 0
    for i in range(n):
        s += i * (n - i)
    return s
