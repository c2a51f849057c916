# Bisects on the upper middle: within the interactor's 7 guesses, but on some
# secrets more than the main solution needs, which the checker rejects.
low, high = 1, 100
while True:
    guess = (low + high + 1) // 2
    print(guess, flush=True)
    reply = input().strip()
    if reply == "=":
        break
    if reply == "<":
        low = guess + 1
    else:
        high = guess - 1
