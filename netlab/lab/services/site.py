"""The course's example web site, written into an http service's document root.

    /            index.html: names the lab and the node ("netlab lab web: server"),
                 links style.css, app.js and logo.jpg (a browser fetches four
                 resources: on one HTTP/2 connection, four streams)
    /style.css   text/css
    /app.js      application/javascript
    /logo.jpg    image/jpeg, a 64×64 baseline JPEG (2.5 kB)
    /big.txt     text/plain, ~100 kB: compressed on the fly with `curl --compressed`
                 (gzip; under HTTP/1.1 the response is then chunked, since its length
                 is not known up front), and larger than HTTP/2's initial 64 KiB
                 flow-control window when fetched uncompressed
    /old         301 → / (nginx config, not a file)
    anything else: nginx's own 404 page

Every text file is larger than the server's ``gzip_min_length`` (256 bytes).
"""

from __future__ import annotations

import base64
from pathlib import Path

BIG_TXT = "big.txt"
BIG_LINES = 1100

STYLE_CSS = """\
/* netlab example site: style.css (fetched by index.html) */
:root { --ink: #1d2733; --accent: #ff8c00; --sea: #1e6fb0; }
body {
  margin: 0 auto;
  max-width: 44rem;
  padding: 1.5rem;
  font: 16px/1.5 system-ui, sans-serif;
  color: var(--ink);
}
header { display: flex; align-items: center; gap: 1rem; }
header img { border-radius: 8px; }
h1 { font-size: 1.6rem; margin: 0; }
code, pre { font-family: ui-monospace, monospace; background: #eef3f8; padding: 0 .2em; }
a { color: var(--sea); }
a:hover { color: var(--accent); }
#loaded { color: #2f7d32; }
"""

APP_JS = """\
// netlab example site: app.js (fetched by index.html, run after the page is parsed)
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const out = document.getElementById("loaded");
  if (!out) return;
  const nav = performance.getEntriesByType("navigation")[0];
  const protocol = nav && nav.nextHopProtocol ? nav.nextHopProtocol : "unknown";
  const resources = performance.getEntriesByType("resource").length;
  out.textContent =
    "app.js ran: page fetched over " + protocol + ", plus " + resources + " sub-resources.";
});
"""

INDEX_HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{who}</title>
<link rel="stylesheet" href="style.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
<img src="logo.jpg" alt="netlab logo" width="64" height="64">
<h1>{who}</h1>
</header>
<p>This page is served by {program} inside the lab node <code>{node}</code>. A browser that
loads it asks for three more resources on the same connection: the style sheet, the
script and the logo.</p>
<ul>
<li><a href="style.css">style.css</a> (text/css) and <a href="app.js">app.js</a>
(application/javascript): compressed with <code>curl --compressed</code></li>
<li><a href="logo.jpg">logo.jpg</a> (image/jpeg): sent as it is</li>
<li><a href="big.txt">big.txt</a> (text/plain, about 100 kB):
gzip on the fly, chunked under HTTP/1.1</li>
<li><a href="old">/old</a>: a permanent redirect (301) back here</li>
<li><a href="missing">/missing</a>: 404 Not Found</li>
</ul>
<p id="loaded">app.js has not run.</p>
</body>
</html>
"""

# 64×64 baseline JPEG (JFIF, 4:4:4), made for netlab: a gradient, a ring, a dot.
LOGO_JPG_B64 = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQaFRER"
    "GCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
    "Hh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCABAAEADAREAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDxpYfav1ls+QjMkWH2qWzaMyRYfapbNozJFh9qhs3jMesPtUtm0Zkiw+1S2bxmSLD7VLZtGZIsPtUtm0ZlVYfau1s+"
    "HjMkWH2qWzaMz3H4c/s+3+qW0GpeLbyTTLaVA62UC/6Tghsbyw2xn7pxhjgkHaRXzWN4ghTbhQXM+/T5d/w+Z7eGy+Uk"
    "pVHby6noNzF8CPBm7Trm18PGRpn3o8B1CWN1wrKxIkaPH904Gc4Gc15cXmuL99OX/pK/RM7HLC0tHb8/8xbSL4FeMtun"
    "2tr4fEizJsSOA6fLI7ZVVUgRs+f7oyM4yM4pSeaYX35OX/pS/WxUZYaporfkcJ8QfgHfaXbz6j4UvJNTtokLtZzr/pOA"
    "F+4VGJD944wpwABuJr0cHn0KjUKys+/T/gfj8iZ4Zx1jqeNLD7V7zZhGY9YfapbN4zKqw+1drZ8NGZ7b+y94Kg1HVbnx"
    "XqNtHNb6e4is1cBh9o4Yv14KLtxkEZcEEFa+a4gxrpwVCD1lv6dvn+nmfRZLh1Uk6stlt6/8D9fIqfG34n6hr+qXGhaF"
    "dSWui27vDJJBLzfHlWJZTgxEZAXOGByc5AW8qyqFCCq1VeT116f8H8tl5rHZk6k3Cm7RX4/8A8pWH2r22zhjMesPtUtm"
    "8ZnrXwU+JeoaFqVvoeuXUl1o9wyQxvPLzZHhVIZjgRAYyucADIxyG8LNMshWi6lNWkvx/wCD/Xp6eExji1GT0/I0P2k/"
    "BsGn6rb+KNPt44oL9jFeKgAH2jlg/Xq4znAAyhJOWrHJMY6kHRk9Vt6f8D9fI6MZDkamup5CsPtXutnPGZVWH2rtbPho"
    "zPp6OX/hEP2cIZ9PacyHSkZHEux45LkjLKwHG1pSR3+UDOea+IcfreatT/m/CP8Amkfcqf1XK1KP8q/8m/yufNCw+1fZ"
    "NnycZnc+F/D9pFZJdXccdxLOgYB13KinkcHv7/h9f544747x1fHTwWCnKlClJptO0pSV022npFa2V9d3rZR/ceEOEsLS"
    "wccVioqpKok0mrqKeq0fXu+my0u27xLoFpLZtdWsUdvJChYhFwrqOTwO/v8A5C4F46x1DHQwWNnKrCrJJNu8oydkmm3r"
    "F6XV9N1rdSvizhTC1MJLFYWKpypptpKyklq9F17Prs+jXILD7V/QTZ+PRmfSJl/4Sv8AZ8kmv2nEg0x2dzLveSS3JwxY"
    "jnc0QJ7/ADEZ718fy/VsytHv/wClf5XPpIz9tg+Z9vy/4Y+dVh9q+sbPIjMqrD7V2tnw8Zn0mLb/AISv9nqK1sVnVxpa"
    "IieVvd5LYjKhQedzREDv8wOO1fEuX1XNXKf834S/yufoEV9cyhKH8v4x/wA2tD50WH2r7Fs+LjM7Hw9qsDWaW1wyQvCg"
    "UFjhWUcDr3/z9P55464Fx1DHTxuChKrCrJtpK8oyd200lrF62dtNnrZy/duDeM8HXwccJi5KnOmkk27RlFaLV9e667rS"
    "6i7XdUhW0e3t2SZ5VKkqchQeD07/AOfquBuBsdWx0MbjYSpQpSTSatKUlZpJNaRWl3bXZa3cdOL+McHRwksLhJKpOomm"
    "07qKej1XXsum70sny6w+1f0C2fjMZn0OLb/hGPgNJa3izM5011dPL2uj3BOFKk8bWlAPfgnHavkOb6zmV49//Sf87H1d"
    "vq+A97t+f+VzwBYfavq2zwIzKqw+1drZ8PGZ6z+z54kj06/uPDt7MkUF4wltS5AHn8KV6dWGMZOMoAOWr5zPsG6kFWgt"
    "Vv6f8D9fI+v4YzKNObw1R2UtV69vn69Lbsp/Fb4c3ekajPq+j2z3Glzs8rpFHzaHliCFGBGOcHoAMHsW0yzNI1oKnUdp"
    "L8f+D/Xo84yiph5utSV4PXT7PXp07Pps/Pz1YfavYbPCjMkWH2qWzaMz0X4WfD661XUINW1a3eDTIGWRElj5ujwwADDm"
    "M8ZPQg4HcjxcyzKNKLp03eT/AA/4P9ev0WVZbOtJVaitFfj/AMD+vTR+OniGPUL6DQLOZJILRjJclSCPO5AXp1UZzg9W"
    "weVrHJsK6cXWktXt6f8AB/TzOjOcapzVGL0W/r/wP18jzRYfavZbPJjMqrD7V2tnw0Zkiw+1S2bRmepeDvipe2MEVlr9"
    "s99DGoUXMZ/f4AP3gThz90Zyp4JO418/jMkhUbnRdn26f8D8fkfZZbxVOlFU8SuZLqt/n36du7uzqrhPhd4jzeTvpIcS"
    "MWZpDaO7HBJYZQv9Tnv715sf7Sw3uq//AKV/nY9xzyXG++3Hfvyv9G/X/gi2yfDDw5i7t30kuZF2sshu3RhkgqMsV+ox"
    "29qUv7SxPuu//pP+VyoSyfB+/Fx+/mf6tepzfiz4n3l9DLZ6FbvZQuu03Eh/fYOPugHCH7wzknkEYNd+FyaNNqVZ3fbp"
    "/wAH8PmeZjOI5VU4UFyru9/l2/H5HnKw+1e02eFGZIsPtUNm8ZlVYfau1s+GjMesPtUtm8Zkiw+1S2bRmSLD7VLZvGZI"
    "sPtUtm0Zkiw+1S2bRmSLD7VDZvGY9YfapbNozP/Z"
)


def logo_jpg() -> bytes:
    return base64.b64decode(LOGO_JPG_B64)


def big_text() -> str:
    """About 100 kB of numbered lines: text that compresses well, like most of the Web."""
    lines = [
        f"{i:04d}  HTTP compresses text on the fly: gzip turns these repeated lines into "
        "far fewer bytes.\n"
        for i in range(1, BIG_LINES + 1)
    ]
    return "".join(lines)


def index_html(lab: str, node: str, program: str) -> str:
    return INDEX_HTML.format(who=f"netlab lab {lab}: {node}", node=node, program=program)


def write_site(www: Path, lab: str, node: str, program: str) -> None:
    """Write the example site into `www` (the document root)."""
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(index_html(lab, node, program))
    (www / "style.css").write_text(STYLE_CSS)
    (www / "app.js").write_text(APP_JS)
    (www / "logo.jpg").write_bytes(logo_jpg())
    (www / BIG_TXT).write_text(big_text())
