"""CIFAR-10 relative stability to smooth diffeomorphisms (Fig. 1A-B, after Petrini et al. 2021).

Modules: `tables` (the stability table, digitised or measured; no torch), `settings` (the validated
run protocol; no torch), `data` (the python-pickle batches), `nets` (2-D networks), `augment` (random
crop and flip), `diffeo` (max-entropy diffeomorphisms), `stability` (D_f, G_f, R_f), `train` and
`runs` (one training run, its measurement and the collected table).
"""
