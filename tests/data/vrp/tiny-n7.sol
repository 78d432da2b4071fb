Route #1: 1 2 4
Route #2: 3 6
Route #3: 5
Cost 38
