"""The touch UI (Kivy): every step of the routine at the shelf, and the simulator's shelf."""
