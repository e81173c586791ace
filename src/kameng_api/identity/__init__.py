"""Identity: accounts (staff, customers, resellers), passwords, tokens, 2FA, sessions."""
