"""One file per engine behind the ASR and painter interfaces; loading.py maps names and folders to them."""
