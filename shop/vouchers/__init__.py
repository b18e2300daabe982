"""PIN vouchers: generation, storage, lifecycle and redemption."""
