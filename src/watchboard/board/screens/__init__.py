"""Board screens: one per module (operator, wall, detail, forms, help)."""
