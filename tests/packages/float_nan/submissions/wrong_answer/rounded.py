a, b = map(int, input().split())
print(f"{a / b:.2f}" if b else ["-inf", "nan", "inf"][(a > 0) - (a < 0) + 1])
