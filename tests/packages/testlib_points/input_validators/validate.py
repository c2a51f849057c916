import sys

xs = sys.stdin.read().split()
sys.exit(42 if xs and all(x.isdigit() for x in xs) else 43)
