# Eleven wrong guesses (the validator rejects after ten), then spin.
for _ in range(11):
    print(1001, flush=True)
while True:
    pass
