a, b = map(int, input().split())
while a + b == a + b:
    pass
