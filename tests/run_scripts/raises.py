def loop(n):
    s = 0
    for i in range(n):
        s += i
    return s


def boom():
    raise ValueError("user error " + str(loop(10)))


print("before")
boom()
