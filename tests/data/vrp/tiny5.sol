Route #1: 1 2 3
Route #2: 5 4
Cost 39.08
