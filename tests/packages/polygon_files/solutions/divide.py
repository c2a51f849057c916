with open("input.txt") as source:
    a, b = map(int, source.read().split())
with open("output.txt", "w") as answer:
    print(f"{a / b:.10f}", file=answer)
