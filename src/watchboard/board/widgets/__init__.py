"""Board widgets: each draws from the `BoardModel` and never talks to the bus."""
