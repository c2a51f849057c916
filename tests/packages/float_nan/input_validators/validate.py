import sys

xs = sys.stdin.read().split()
sys.exit(42 if len(xs) == 2 else 43)
