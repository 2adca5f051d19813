# expect: parallel
"""Independent calls from a for loop: score every candidate string against a fixed pattern
(an edit-distance DP per candidate, a few ms each); results only meet in a list at the end."""


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def candidates(n, length=60):
    seed = 7
    out = []
    for _ in range(n):
        s = []
        for _ in range(length):
            seed = (seed * 1103515245 + 12345) % 2147483648
            s.append("acgt"[(seed >> 16) % 4])
        out.append("".join(s))
    return out


def main():
    pattern = "acgtacgtta" * 6
    scores = []
    for cand in candidates(600):
        scores.append(edit_distance(pattern, cand))
    print(min(scores), max(scores))


if __name__ == "__main__":
    main()
