// Barter dashboard: the simulator form (being built).
