"""Sign-in: tap the signature, or the badge reader."""

from __future__ import annotations

from ..widgets import MUTED, Btn, Page, Scale, Txt, font_px, grid, mm, scroll


class SignInPage(Page):
    title = "Logga in"
    home_button = False

    def build(self):
        self.body.add_widget(Txt("Tryck på din signatur – eller blippa din tagg på läsaren.", font_mm=4,
                                 color=MUTED))
        cols = 2 if Scale.portrait else 3
        g = grid(cols, row_default_height=mm(18), row_force_default=True)
        for op in self.app.config.operators:
            label = f"[b]{op.signature}[/b]" + (f"\n[size={font_px(3.2)}]{op.name}[/size]" if op.name else "")
            g.add_widget(Btn(label, lambda s=op.signature: self.app.do({"cmd": "login", "operator": s}),
                             font_mm=6))
        self.body.add_widget(scroll(g))
