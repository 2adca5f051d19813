import sys
data = sys.stdin.read()
print("argv:", sys.argv[1:])
print("stdin:", data.strip())
print("main:", __name__)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
