import sys

n = int(sys.stdin.read())
sys.exit(42 if n >= 0 else 43)
