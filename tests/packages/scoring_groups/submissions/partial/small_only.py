n = int(input())
print(2 * n if n < 2000 else 0)
