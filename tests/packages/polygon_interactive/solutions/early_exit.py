# Twenty guesses without reading a reply, then gone: the interactor rejects it.
for guess in range(1, 21):
    print(guess * 5)
