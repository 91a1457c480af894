"""Draw docs/card.png: the real `/news article` card of a seed article, as Discord shows it.

The embed and buttons come from the bot's own renderer (`bot.render`), for an article
loaded from `seeds/` into a scratch database; only the drawing is done here, with Pillow
(not a dependency of the bot: `pip install pillow` to run this script).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.articles import Article  # noqa: E402 - after the path is set
from bot.queries import News  # noqa: E402
from bot.render import article_card, link_buttons  # noqa: E402
from bot.store import Store  # noqa: E402

FONTS = Path("/usr/share/fonts/truetype/dejavu")
BACKGROUND, CARD, TEXT, MUTED, LINK = "#313338", "#2b2d31", "#dbdee1", "#949ba4", "#00a8fc"
WIDTH, PAD = 760, 16


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")),
                              size)


async def seed_article(title: str) -> Article:
    with tempfile.TemporaryDirectory() as scratch:
        async with await Store.open(Path(scratch) / "news.db") as store:
            news = News(store, REPO / "seeds")
            await news.sync()
            found = await news.article(title)
            if not isinstance(found, Article):
                raise SystemExit(f"no seed article matches {title!r}")
            return found


def unescape(text: str) -> str:
    """Discord shows `\\*` as `*`: undo the renderer's markdown escapes for the picture."""
    return text.replace("\\", "")


def draw(embed: dict[str, Any], buttons: list[str], out: Path) -> None:
    lines: list[tuple[str, ImageFont.FreeTypeFont, str]] = []
    lines.append(("AI News  BOT   Today at 09:30", font(13), MUTED))
    lines.append(("", font(6), TEXT))
    if "author" in embed:
        lines.append((unescape(embed["author"]["name"]), font(13, True), TEXT))
    for part in textwrap.wrap(unescape(embed["title"]), 62):
        lines.append((part, font(16, True), LINK))
    for part in textwrap.wrap(unescape(embed.get("description", "")), 80):
        lines.append((part, font(14), TEXT))
    for field in embed.get("fields", []):
        lines.append(("", font(6), TEXT))
        lines.append((field["name"], font(14, True), TEXT))
        for part in textwrap.wrap(unescape(field["value"]), 80):
            lines.append((part, font(14), TEXT))
    lines.append(("", font(6), TEXT))
    lines.append((f"[image: {embed.get('image', {}).get('url', 'none')[:70]}…]", font(12), MUTED))
    footer = embed.get("footer", {}).get("text", "")
    lines.append((f"{footer} · {embed.get('timestamp', '')[:16].replace('T', ' ')} UTC",
                  font(12), MUTED))
    height = PAD * 2 + sum(f.size + 6 for _, f, _ in lines) + 56
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    card_top = PAD + lines[0][1].size + 10
    pen.rectangle((PAD, card_top, WIDTH - PAD, height - 56), fill=CARD)
    pen.rectangle((PAD, card_top, PAD + 4, height - 56), fill=f"#{embed['color']:06x}")
    y = PAD
    for text, face, colour in lines:
        pen.text((PAD + (0 if y == PAD else 16), y), text, font=face, fill=colour)
        y += face.size + 6
    x = PAD
    for label in buttons:
        width = int(pen.textlength(f"{label}  ↗", font=font(14))) + 24
        pen.rounded_rectangle((x, height - 46, x + width, height - 14), 4, fill="#4e5058")
        pen.text((x + 12, height - 39), f"{label}  ↗", font=font(14), fill=TEXT)
        x += width + 8
    image.save(out)


def main() -> None:
    article = asyncio.run(seed_article("Microsoft Azure to spin up AMD MI200 GPU clusters"))
    buttons = [item.label or "" for item in link_buttons(article).children
               if hasattr(item, "label")]
    out = REPO / "docs" / "card.png"
    draw(article_card(article).to_dict(), buttons, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
