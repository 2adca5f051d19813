import mathhelpers


def total(n):
    s = 0.0
    for i in range(n):
        s += (i % 13) * 0.5
    return s


def words(text):
    out = []
    for w in text.split():  # not compilable: strings and lists
        out.append(w.upper())
    return out


print(total(3_000_000))
print(mathhelpers.dot_loop(400_000))
print(words("a b c"))
