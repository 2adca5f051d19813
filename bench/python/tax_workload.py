"""A pure-Python, non-numeric program (strings, dicts, classes): what epochpp must not slow down."""
import sys


class Node:
    def __init__(self, key, left=None, right=None):
        self.key, self.left, self.right = key, left, right

    def insert(self, key):
        node = self
        while True:
            if key < node.key:
                if node.left is None:
                    node.left = Node(key)
                    return
                node = node.left
            else:
                if node.right is None:
                    node.right = Node(key)
                    return
                node = node.right


def word_counts(text):
    counts = {}
    for w in text.split():
        w = w.strip(".,;").lower()
        counts[w] = counts.get(w, 0) + 1
    return counts


def build_tree(words):
    root = Node(words[0])
    for w in words[1:]:
        root.insert(w)
    return root


def depth(node):
    if node is None:
        return 0
    return 1 + max(depth(node.left), depth(node.right))


def render(counts):
    parts = []
    for k in sorted(counts):
        parts.append(f"{k}={counts[k]}")
    return ";".join(parts)


def main(rounds):
    base = ("the quick brown fox jumps over the lazy dog while seven wizards quietly judge "
            "boxing matches and a sphinx of black quartz reviews my vow ") * 40
    out = 0
    for r in range(rounds):
        text = base + str(r)
        counts = word_counts(text)
        tree = build_tree([w + str(i % 97) for i, w in enumerate(text.split())])
        out += depth(tree) + len(render(counts))
    return out


if __name__ == "__main__":
    import time
    t0 = time.perf_counter()
    if len(sys.argv) > 2 and sys.argv[2] == "enable":
        import epochpp
        epochpp.enable(level=3)
    t1 = time.perf_counter()
    print(main(int(sys.argv[1])))
    print(f"{t1 - t0:.6f} {time.perf_counter() - t1:.6f}", file=sys.stderr)
