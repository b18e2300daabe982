"""SIM/eSIM cards, their numbers, balances and top-ups."""
