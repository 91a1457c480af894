"""Write a synthetic, deterministic corpus of article files in the seed format for benchmarks."""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from random import Random
from string import Formatter

# Fixed, so that a seed alone decides every byte of the corpus (never "now").
ANCHOR = datetime(2022, 6, 1, tzinfo=UTC)
WINDOW_MINUTES = 90 * 24 * 60

# The shape of the real data (bench/shape.py prints it beside the generated corpus'). The 22
# real 2022 files of this format that were looked at hold 75 articles, 3.4 per file, with 2.4
# related stubs per file on average, from 0 to 21; the two seed files hold 13 and 4 stubs,
# one of which (seed 003 inside seed 000) has its own file. The stubs' curve is skewed over
# 0..21 (a third of the files list nothing, one in ~50 lists 13 or more) with a mean of 2.5,
# not 2.4: the 22 files' two means can only both hold if no stub ever repeats an article,
# and a few do here, so 2.5 is what brings the articles per file (the corpus' size) to 3.4.
RELATED_COUNT_WEIGHTS = (340, 190, 130, 95, 70, 50, 37, 27, 20, 15, 11, 8, 6, 5, 4, 3, 2, 2, 1,
                         1, 1, 1)
RELATED_COUNT_CUM_WEIGHTS = list(accumulate(RELATED_COUNT_WEIGHTS))
# Most stubs point at pages the corpus never got a file for; a few at an article that has
# its own file (the seeds: 1 of 17), a few repeat a stub-only article that a recent file
# listed (one story's cluster of files).
STUB_WITH_FILE_SHARE = 0.02
STUB_REPEAT_SHARE = 0.01
RECENT_STUBS = 2000  # stub-only articles a later file may list again
DUPLICATE_RATE = 0.005  # the same article written again in another file
NO_AMP_RATE = 0.02  # on top of the providers that never have AMP pages (~9% of articles)
TRACKED_ORIGINAL_RATE = 0.08
BACKSLASH_RATE = 0.03  # scraped text has the odd "AI\ML"; it exercises YAML escaping


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A publisher and how its URLs look; `{...}` placeholders are filled per article."""

    name: str
    domain: str
    host: str
    path: str
    amp: str  # "" = this publisher has no AMP pages
    weight: float
    alt_name: str = ""  # a second spelling of the same publisher, seen now and then
    image_host: str = ""


# Path placeholders: {y} {m} {d} {mon} (may) {slug} {uslug} (short, underscores) {id} {sec}
# {author}; AMP templates may also use {host} and {path} (the article path).
PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec("theregister", "theregister.com", "www.theregister.com", "/{y}/{m}/{d}/{uslug}/",
                 "https://{host}/AMP/{y}/{m}/{d}/{uslug}/", 8, "The Register", "regmedia.co.uk"),
    ProviderSpec("Datacenter Dynamics", "datacenterdynamics.com", "www.datacenterdynamics.com",
                 "/en/news/{slug}/", "", 4, "DCD", "media.datacenterdynamics.com"),
    ProviderSpec("Nasdaq", "nasdaq.com", "www.nasdaq.com", "/articles/{slug}",
                 "https://{host}{path}?amp", 5),
    ProviderSpec("Becker's Hospital Review", "beckershospitalreview.com",
                 "www.beckershospitalreview.com", "/{sec}/{slug}.html", "", 3,
                 "Beckers Hospital Review"),
    ProviderSpec("Mint", "livemint.com", "www.livemint.com",
                 "/technology/tech-news/{slug}-{id}.html",
                 "https://{host}/technology/tech-news/{slug}/amp-{id}.html", 3, "livemint",
                 "images.livemint.com"),
    ProviderSpec("IT Business Edge", "itbusinessedge.com", "www.itbusinessedge.com",
                 "/{sec}/{slug}/", "https://{host}{path}amp/", 2),
    ProviderSpec("techzine", "techzine.eu", "www.techzine.eu", "/news/{sec}/{id}/{slug}/",
                 "https://{host}{path}amp/", 3, "Techzine"),
    ProviderSpec("CRN", "crn.com", "www.crn.com", "/news/{sec}/{slug}",
                 "https://{host}/amp/news/{sec}/{slug}", 4),
    ProviderSpec("CRN Australia", "crn.com.au", "www.crn.com.au", "/news/{slug}-{id}",
                 "https://{host}/amp/news/{slug}-{id}", 2),
    ProviderSpec("Visual Studio Magazine", "visualstudiomagazine.com", "visualstudiomagazine.com",
                 "/articles/{y}/{m}/{d}/{uslug}.aspx", "", 1),
    ProviderSpec("Seeking Alpha", "seekingalpha.com", "seekingalpha.com", "/news/{id}-{slug}",
                 "https://{host}/amp/news/{id}-{slug}", 3, "", "static.seekingalpha.com"),
    ProviderSpec("Stockhouse", "stockhouse.com", "stockhouse.com",
                 "/news/press-releases/{y}/{m}/{d}/{slug}", "", 1),
    ProviderSpec("Microsoft", "microsoft.com", "blogs.microsoft.com", "/ai/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("VentureBeat", "venturebeat.com", "venturebeat.com", "/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 6, "venturebeat"),
    ProviderSpec("TechCrunch", "techcrunch.com", "techcrunch.com", "/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 5),
    ProviderSpec("ZDNet", "zdnet.com", "www.zdnet.com", "/article/{slug}/",
                 "https://{host}/google-amp/article/{slug}/", 5, "zdnet"),
    ProviderSpec("The Verge", "theverge.com", "www.theverge.com", "/{y}/{m}/{d}/{id}/{slug}",
                 "https://{host}/platform/amp/{y}/{m}/{d}/{id}/{slug}", 3),
    ProviderSpec("Wired", "wired.com", "www.wired.com", "/story/{slug}/",
                 "https://{host}{path}amp", 3, "WIRED", "media.wired.com"),
    ProviderSpec("MIT Technology Review", "technologyreview.com", "www.technologyreview.com",
                 "/{y}/{m}/{d}/{id}/{slug}/", "https://{host}{path}amp/", 4),
    ProviderSpec("Ars Technica", "arstechnica.com", "arstechnica.com",
                 "/information-technology/{y}/{m}/{slug}/", "https://{host}{path}?amp=1", 2),
    ProviderSpec("Forbes", "forbes.com", "www.forbes.com", "/sites/{author}/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 5, "", "imageio.forbes.com"),
    ProviderSpec("Reuters", "reuters.com", "www.reuters.com", "/technology/{slug}-{y}-{m}-{d}/",
                 "https://{host}{path}?outputType=amp", 4),
    ProviderSpec("BBC News", "bbc.co.uk", "www.bbc.co.uk", "/news/technology-{id}",
                 "https://{host}/news/technology-{id}.amp", 3, "BBC", "ichef.bbci.co.uk"),
    ProviderSpec("The Guardian", "theguardian.com", "www.theguardian.com",
                 "/technology/{y}/{mon}/{d}/{slug}", "https://amp.theguardian.com{path}", 3, "",
                 "i.guim.co.uk"),
    ProviderSpec("Computer Weekly", "computerweekly.com", "www.computerweekly.com",
                 "/news/{id}/{slug}", "https://{host}/news/{id}/{slug}?amp", 2),
    ProviderSpec("iTnews", "itnews.com.au", "www.itnews.com.au", "/news/{slug}-{id}",
                 "https://{host}/news/{slug}-{id}/amp", 2, "itnews"),
    ProviderSpec("InnovationAus", "innovationaus.com", "www.innovationaus.com", "/{slug}/",
                 "https://{host}{path}amp/", 1),
    ProviderSpec("siliconrepublic", "siliconrepublic.com", "www.siliconrepublic.com",
                 "/machines/{slug}", "https://{host}/machines/{slug}/amp", 2, "Silicon Republic"),
    ProviderSpec("Sifted", "sifted.eu", "sifted.eu", "/articles/{slug}/",
                 "https://{host}{path}amp/", 1),
    ProviderSpec("Tech.eu", "tech.eu", "tech.eu", "/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 1),
    ProviderSpec("Euractiv", "euractiv.com", "www.euractiv.com", "/section/digital/news/{slug}/",
                 "https://{host}{path}amp/", 2, "EURACTIV"),
    ProviderSpec("Analytics India Magazine", "analyticsindiamag.com", "analyticsindiamag.com",
                 "/{slug}/", "https://{host}{path}amp/", 4),
    ProviderSpec("Unite.AI", "unite.ai", "www.unite.ai", "/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("HPCwire", "hpcwire.com", "www.hpcwire.com", "/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("EE Times", "eetimes.com", "www.eetimes.com", "/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("Tom's Hardware", "tomshardware.com", "www.tomshardware.com", "/news/{slug}",
                 "https://{host}/amp/news/{slug}", 2),
    ProviderSpec("siliconangle", "siliconangle.com", "siliconangle.com", "/{y}/{m}/{d}/{slug}/",
                 "https://{host}{path}amp/", 3, "SiliconANGLE"),
    ProviderSpec("GeekWire", "geekwire.com", "www.geekwire.com", "/{y}/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("The Robot Report", "therobotreport.com", "www.therobotreport.com", "/{slug}/",
                 "https://{host}{path}amp/", 2),
    ProviderSpec("Healthcare IT News", "healthcareitnews.com", "www.healthcareitnews.com",
                 "/news/{slug}", "", 2),
    ProviderSpec("Silicon UK", "silicon.co.uk", "www.silicon.co.uk",
                 "/e-innovation/artificial-intelligence/{slug}-{id}",
                 "https://{host}{path}/amp", 1),
    ProviderSpec("techradar", "techradar.com", "www.techradar.com", "/news/{slug}",
                 "https://{host}/amp/news/{slug}", 3, "TechRadar"),
)
PROVIDER_CUM_WEIGHTS = list(accumulate(p.weight for p in PROVIDERS))

# "AI" is handled on its own (most articles carry it); the rest follow a Zipf-like curve in
# this order, so "Machine Learning" is common and "AI Jobs" rare.
TOPICS: tuple[str, ...] = (
    "Machine Learning", "AI Hardware", "Microsoft AI", "Google AI", "Facebook AI", "Deep Learning",
    "Computer Vision", "NLP", "Robotics", "AI Ethics", "Amazon AI", "Autonomous Vehicles",
    "Healthcare AI", "AI Startups", "Nvidia AI", "Language Models", "AI Regulation", "Chatbots",
    "IBM AI", "OpenAI", "DeepMind", "AI Research", "Generative AI", "AI Chips", "Cloud AI",
    "Conversational AI", "Speech Recognition", "AI in Finance", "Self-Driving Cars", "AI Funding",
    "Edge AI", "MLOps", "Data Science", "Big Data", "AI Security", "Deepfakes",
    "Facial Recognition", "Reinforcement Learning", "Neural Networks", "Apple AI",
    "Quantum Computing", "Drones", "Industrial Automation", "RPA", "Smart Cities",
    "AI in Education", "AI in Retail", "Drug Discovery", "Medical Imaging",
    "Recommender Systems", "Explainable AI", "Responsible AI", "AI Policy", "Supercomputing",
    "Baidu AI", "Tesla AI", "Samsung AI", "Intel AI", "AI Jobs",
)
TOPIC_CUM_WEIGHTS = list(accumulate(1.0 / rank for rank in range(1, len(TOPICS) + 1)))
AI_TOPIC_RATE = 0.75
# 1..5 topics, three the commonest (both seeds have three): a mean of ~3.
TOPIC_COUNT_CUM_WEIGHTS = list(accumulate((5, 25, 40, 20, 10)))

# Company -> (ticker, topic it pulls in); the topic makes related lists cluster sensibly.
COMPANIES: dict[str, tuple[str, str]] = {
    "Microsoft": ("MSFT", "Microsoft AI"), "Meta": ("META", "Facebook AI"),
    "Facebook": ("FB", "Facebook AI"), "Google": ("GOOGL", "Google AI"),
    "Amazon": ("AMZN", "Amazon AI"), "AWS": ("AMZN", "Amazon AI"), "Nvidia": ("NVDA", "Nvidia AI"),
    "AMD": ("AMD", "AI Hardware"), "Intel": ("INTC", "Intel AI"), "IBM": ("IBM", "IBM AI"),
    "OpenAI": ("", "OpenAI"), "DeepMind": ("", "DeepMind"), "Apple": ("AAPL", "Apple AI"),
    "Baidu": ("BIDU", "Baidu AI"), "Tesla": ("TSLA", "Tesla AI"),
    "Samsung": ("SSNLF", "Samsung AI"),
    "Qualcomm": ("QCOM", "AI Chips"), "Graphcore": ("", "AI Chips"), "Cerebras": ("", "AI Chips"),
    "Hugging Face": ("", "NLP"), "Salesforce": ("CRM", "Conversational AI"),
    "Oracle": ("ORCL", "Cloud AI"), "Databricks": ("", "MLOps"), "Palantir": ("PLTR", "Big Data"),
    "UiPath": ("PATH", "RPA"), "C3.ai": ("AI", "AI Startups"), "Alibaba": ("BABA", "Cloud AI"),
    "Tencent": ("TCEHY", "AI Research"), "Anthropic": ("", "AI Research"),
    "Boston Dynamics": ("", "Robotics"), "Waymo": ("", "Autonomous Vehicles"),
    "BeeKeeperAI": ("", "Healthcare AI"), "Clearview AI": ("", "Facial Recognition"),
}
COMPANY_NAMES = tuple(COMPANIES)
THINGS = (
    "GPU clusters", "AI supercomputer", "language model", "chatbot", "vision platform",
    "MI200 accelerators", "TPU v4 pods", "speech recognition tool", "recommendation engine",
    "robot arm", "self-driving stack", "AI chip", "data labelling service",
    "fraud detection system",
    "diagnostic algorithm", "edge AI module", "MLOps platform", "foundation model",
    "code assistant", "digital twin", "translation model", "AI research lab", "image generator",
)
SECTORS = (
    "healthcare", "banking", "retail", "manufacturing", "logistics", "agriculture", "insurance",
    "education", "cybersecurity", "drug discovery", "climate research", "customer service",
    "radiology", "supply chains", "the public sector", "hospitals", "call centres", "warehouses",
)
VERBS = ("unveils", "launches", "announces", "debuts", "rolls out", "expands", "tests", "pilots",
         "open-sources", "doubles down on", "bets big on", "scraps")
ADJECTIVES = ("key", "strategic", "landmark", "large scale", "multi-year", "exclusive", "quiet")
BUZZ = ("responsible", "human-centred", "trustworthy", "general purpose", "sentient",
        "industrial-grade", "green")
CONCERNS = ("privacy concerns", "bias claims", "antitrust worries", "a chip shortage",
            "job cuts", "safety questions", "copyright complaints", "rising cloud costs")
EVENTS = ("Microsoft Build 2022", "Google I/O 2022", "Computex 2022", "GTC 2022",
          "Think 2022", "RSA Conference 2022", "ISC 2022")
REGIONS = ("the EU", "the UK", "Australia", "India", "California", "Singapore", "Canada")
FIRST_NAMES = ("Marco", "Ashley", "Priya", "Wei", "Fatima", "John", "Elena", "Kenji", "Sara",
               "Tom", "Olusegun", "Maria", "Lars", "Aisha")
LAST_NAMES = ("Casalaina", "Hart", "Sharma", "Zhang", "Okafor", "O'Brien", "Rossi", "Tanaka",
              "Nguyen", "Smith", "Jensen", "Müller", "Haddad", "García")
ROLES = ("chief technology officer", "vice president of AI", "head of research", "CEO",
         "principal analyst", "general manager")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
SECTIONS = ("news", "innovation", "disruptors", "cloud", "ai", "health-it", "business",
            "collaboration", "data-centers", "artificial-intelligence")
TRACKING = ("td=rss", "td=amp-keepreading-btm", "utm_source=rss&utm_medium=rss",
            "utm_source=x", "utm_source=newsletter&utm_campaign=daily", "ocid=uxbndlbing",
            "ref=rss", "cmpid=rss")
IMAGE_SIZES = ((1200, 630), (1000, 380), (894, 534), (600, 338), (1522, 857), (300, 300),
               (750, 500), (1400, 900), (460, 460), (647, 450), (608, 457), (1920, 1080),
               (800, 450))
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

TITLE_TEMPLATES = (
    "{co} {verb} {thing} for {sector}",
    "{co} to use dedicated {thing} for AI {sector} work",
    "Despite '{adj}' partnership with {co2}, {co} taps {co3} for AI work",
    "{co} and {co2} expand their AI partnership",
    "{co}'s new {thing} could change {sector} for good",
    "{co}\u2019s {thing} aims to speed up {sector}",
    "{event}: Key highlights",
    "{event}: {n} takeaways for {sector} leaders",
    "How AI is reshaping {sector}, according to {co}",
    "{co} ({ticker}) shares slip after {thing} announcement",
    "Why {sector} needs “{buzz}” AI, says {co} executive",
    "{co} says its {thing} is ready for 'real world' {sector}",
    "Study: {thing} outperforms experts in {sector} trial",
    "{co} quietly shuts {thing} team amid {concern}",
    'Inside {co}\'s plan to build "{buzz}" AI',
    "{n} ways {sector} companies use machine learning in 2022",
    "Regulators in {region} probe {co} over {concern}",
    "{co} hires former {co2} executive to lead {thing} push",
    "{co} to spin up {thing} for 'large scale' AI training in {region}",
    "Startup, {co} collaborate to simplify AI {sector} research",
)
SENTENCE_TEMPLATES = (
    "{co} on {weekday} revealed it will use {co2}'s {thing} to improve {sector}.",
    "The deal will see {co} deploy machine-learning workloads on thousands of GPUs.",
    "“We are excited to deepen our collaboration with {co2} to advance {sector},” said {person},"
    " {role} at {co}.",
    "Analysts expect the market for the {thing} category to reach ${n} billion by 2027.",
    "The company did not disclose the financial terms of the agreement.",
    "{co} first began using the {thing} last year, but at a much smaller scale.",
    "Critics say the move raises fresh questions about {concern}.",
    "The {thing} is available in preview for {sector} customers in {region}.",
    'Researchers said the model "{buzz}" behaviour surprised them in early tests.',
    "{person} told reporters the system is “{buzz}” and ready for production.",
    "Shares of {co} ({ticker}) rose {n}% in early trading.",
    "{co}\u2019s {thing} competes with offerings from {co2} and {co3}.",
    "{co} has made {n} AI acquisitions since 2019, the filing shows.",
    "The {adj} agreement runs for {n} months and covers {region}.",
)

SLUG_STRIP = re.compile(r"[^a-z0-9]+")


@dataclass(slots=True)
class Entity:
    """One article of the synthetic world, with or without a file of its own."""

    title: str
    excerpt: str
    date: str
    url: str  # clean canonical form
    original_url: str
    web_url: str
    amp_url: str
    cdn_amp_url: str
    provider_name: str
    provider_domain: str
    host: str
    quality: int
    heat: int
    published: bool
    topics: list[str]
    images: list[tuple[str, int, int, bool]]
    has_file: bool
    stub_cache: tuple[str, str] | None = field(default=None)


def q(text: str) -> str:
    """A YAML double-quoted scalar, escaped like the seeds: only backslash and quote need it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pick(rng: Random, items: tuple[str, ...]) -> str:
    # random() is about twice as fast as choice(); this runs a million times per 10k files.
    return items[int(rng.random() * len(items))]


def _pick_company(rng: Random, avoid: tuple[str, ...] = ()) -> str:
    while True:
        co = _pick(rng, COMPANY_NAMES)
        if co not in avoid:
            return co


# Placeholders drawn from a word list; the others are computed in _fill.
WORD_POOLS: dict[str, tuple[str, ...]] = {
    "verb": VERBS, "thing": THINGS, "sector": SECTORS, "adj": ADJECTIVES, "buzz": BUZZ,
    "concern": CONCERNS, "event": EVENTS, "region": REGIONS, "weekday": WEEKDAYS, "role": ROLES,
}


@cache
def _placeholders(template: str) -> tuple[str, ...]:
    names = {name for _, name, _, _ in Formatter().parse(template) if name}
    if "co3" in names:  # co3 must differ from co2, so co2 is drawn first
        names.add("co2")
    # A fixed order keeps the random stream, and so the corpus, the same for a seed.
    return tuple(sorted(names))


def _fill(rng: Random, template: str, co: str) -> str:
    """Fill a template, drawing only the placeholders it uses (this is the hot path)."""
    values = {"co": co}
    for name in _placeholders(template):
        if name in WORD_POOLS:
            values[name] = _pick(rng, WORD_POOLS[name])
        elif name == "co2":
            values[name] = _pick_company(rng, (co,))
        elif name == "co3":
            values[name] = _pick_company(rng, (co, values["co2"]))
        elif name == "ticker":
            values[name] = COMPANIES[co][0]
        elif name == "n":
            values[name] = str(rng.randint(2, 40))
        elif name == "person":
            values[name] = f"{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}"
    return template.format_map(values)


def _template(rng: Random, templates: tuple[str, ...], co: str) -> str:
    template = _pick(rng, templates)
    while "{ticker}" in template and not COMPANIES[co][0]:  # private firms have no ticker
        template = _pick(rng, templates)
    return template


def _title(rng: Random, co: str) -> str:
    title = _fill(rng, _template(rng, TITLE_TEMPLATES, co), co)
    words = len(title.split())
    if words < 5:
        title += rng.choice((" as AI push accelerates", " in 2022", ", report says"))
    elif words > 14:
        title = " ".join(title.split()[:14])
    return title


def _excerpt(rng: Random, co: str) -> str:
    target = rng.randint(104, 400)
    parts: list[str] = []
    size = 0
    while size < target:
        sentence = _fill(rng, _template(rng, SENTENCE_TEMPLATES, co), co)
        parts.append(sentence)
        size += len(sentence) + 1
    if rng.random() < BACKSLASH_RATE:
        parts.insert(rng.randrange(len(parts)), "Teams building AI\\ML pipelines come first.")
    text = " ".join(parts)
    if len(text) <= target:
        return text
    # Feeds cut excerpts mid-sentence, sometimes marking it with " ..."; so do we.
    cut = text.rfind(" ", 101, target - 4)
    if cut < 0:  # no word boundary in range: cut mid-word rather than leave 100..400
        cut = target - 4
    text = text[:cut].rstrip(" ,")
    if rng.random() < 0.3:
        text += " ..."
    return text


def _slug(title: str, words: int = 9) -> str:
    return "-".join(SLUG_STRIP.sub(" ", title.lower()).split()[:words]) or "article"


def _cdn(amp_url: str) -> str:
    # The AMP cache's host encoding: "-" doubles, "." becomes "-".
    rest = amp_url.split("://", 1)[1]
    host = rest.split("/", 1)[0]
    sub = host.replace("-", "--").replace(".", "-")
    return f"https://{sub}.cdn.ampproject.org/c/s/{rest}"


def _with_tracking(url: str, rng: Random) -> str:
    return url + ("&" if "?" in url else "?") + rng.choice(TRACKING)


def _toggle_www(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if rest.startswith("www."):
        return f"{scheme}://{rest[4:]}"
    return f"{scheme}://www.{rest}"


def _topics(rng: Random, co: str) -> list[str]:
    n = rng.choices(range(1, 6), cum_weights=TOPIC_COUNT_CUM_WEIGHTS)[0]
    chosen: list[str] = []
    if rng.random() < AI_TOPIC_RATE:
        chosen.append("AI")
    company_topic = COMPANIES[co][1]
    if len(chosen) < n and rng.random() < 0.7:
        chosen.append(company_topic)
    for _ in range(4 * n):  # bounded: duplicates are skipped, not retried forever
        if len(chosen) >= n:
            break
        topic = rng.choices(TOPICS, cum_weights=TOPIC_CUM_WEIGHTS)[0]
        if topic not in chosen:
            chosen.append(topic)
    rng.shuffle(chosen)  # the seeds do not list "AI" first
    return chosen


def _entity(rng: Random, index: int, has_file: bool, used_urls: set[str]) -> Entity:
    spec = PROVIDERS[rng.choices(range(len(PROVIDERS)), cum_weights=PROVIDER_CUM_WEIGHTS)[0]]
    co = _pick(rng, COMPANY_NAMES)
    title = _title(rng, co)
    excerpt = _excerpt(rng, co)
    when = ANCHOR - timedelta(minutes=rng.randint(1, WINDOW_MINUTES))
    slug = _slug(title)
    fields = {
        "y": f"{when.year:04d}", "m": f"{when.month:02d}", "d": f"{when.day:02d}",
        "mon": MONTHS[when.month - 1], "slug": slug, "uslug": "_".join(slug.split("-")[:3]),
        "id": str(rng.randint(10_000, 9_999_999)), "sec": rng.choice(SECTIONS),
        "author": _slug(f"{rng.choice(FIRST_NAMES)}{rng.choice(LAST_NAMES)}", 1), "host": spec.host,
    }
    path = spec.path.format_map(fields)
    url = f"https://{spec.host}{path}"
    if url in used_urls:  # two headlines can share a slug; each article needs its own page
        fields["slug"] = f"{slug}-{index}"
        fields["uslug"] = f"{fields['uslug']}_{index}"
        path = spec.path.format_map(fields)
        url = f"https://{spec.host}{path}"
    used_urls.add(url)
    fields["path"] = path

    amp_url = cdn_amp_url = ""
    if spec.amp and rng.random() >= NO_AMP_RATE:
        amp_url = spec.amp.format_map(fields)
        cdn_amp_url = _cdn(amp_url)

    original_url = web_url = url
    if rng.random() < TRACKED_ORIGINAL_RATE:
        original_url = _with_tracking(url, rng)
        if rng.random() < 0.5:  # as in the seed: webUrl repeats the tracked originalUrl
            web_url = original_url

    image_host = spec.image_host or spec.host
    images = []
    for _ in range(rng.choices((0, 1, 2), cum_weights=(15, 85, 100))[0]):
        width, height = rng.choice(IMAGE_SIZES)
        image_url = (f"https://{image_host}/{fields['y']}/{fields['m']}/{fields['d']}/"
                     f"{fields['uslug']}_{rng.getrandbits(24):06x}.jpg")
        images.append((image_url, width, height, rng.random() < 0.95))

    heat = -1 if rng.random() < 0.4 else min(500, int(rng.expovariate(1 / 80)))
    return Entity(
        title=title,
        excerpt=excerpt,
        date=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        url=url,
        original_url=original_url,
        web_url=web_url,
        amp_url=amp_url,
        cdn_amp_url=cdn_amp_url,
        provider_name=spec.alt_name if spec.alt_name and rng.random() < 0.15 else spec.name,
        provider_domain=spec.domain,
        host=spec.host,
        quality=max(19, min(103, int(rng.triangular(19, 104, 60)))),
        heat=heat,
        published=rng.random() < 0.55,
        topics=_topics(rng, co),
        images=images,
        has_file=has_file,
    )


def _stub(entity: Entity, web_url: str) -> str:
    """A related-list entry, indented as in the seeds; head/tail cached, only the URL varies."""
    if entity.stub_cache is None:
        head = (f"  - title: {q(entity.title)}\n    excerpt: {q(entity.excerpt)}\n"
                f"    publishedDateTime: {entity.date}\n")
        tail = ""
        if entity.amp_url:
            tail += (f"    ampWebUrl: {q(entity.amp_url)}\n"
                     f"    cdnAmpWebUrl: {q(entity.cdn_amp_url)}\n")
        tail += (f"    type: article\n    provider:\n      name: {entity.provider_name}\n"
                 f"      domain: {entity.provider_domain}\n    quality: {entity.quality}\n")
        if entity.images:  # stubs carry at most the lead image, as in the seeds
            url, width, height, cached = entity.images[0]
            tail += (f"    images:\n      - url: {q(url)}\n        width: {width}\n"
                     f"        height: {height}\n        isCached: {_bool(cached)}\n")
        entity.stub_cache = (head, tail)
    head, tail = entity.stub_cache
    return f"{head}    webUrl: {q(web_url)}\n{tail}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass(slots=True)
class _World:
    """The articles with a file, and the stub-only articles made as related lists need them."""

    files: list[Entity]
    by_topic: dict[str, list[int]]  # positions in `files` per topic
    used_urls: set[str]
    recent: deque[Entity]  # stub-only articles a later file may list again
    made: int = 0  # stub-only articles made so far

    def stub_only(self, rng: Random) -> Entity:
        entity = _entity(rng, len(self.files) + self.made, False, self.used_urls)
        self.made += 1
        self.recent.append(entity)
        return entity


def _related_entities(rng: Random, entity: Entity, self_index: int, world: _World
                      ) -> list[Entity]:
    n = rng.choices(range(len(RELATED_COUNT_WEIGHTS)), cum_weights=RELATED_COUNT_CUM_WEIGHTS)[0]
    # Related articles with a file share a topic; a specific one over the ubiquitous "AI".
    specific = [t for t in entity.topics if t != "AI"] or entity.topics
    chosen: list[Entity] = []
    for _ in range(3 * n):  # bounded: a pick already chosen is skipped, not retried forever
        if len(chosen) >= n:
            break
        roll = rng.random()
        if roll < STUB_WITH_FILE_SHARE:
            pool = world.by_topic[rng.choice(specific)]
            position = pool[rng.randrange(len(pool))]
            other = world.files[position] if position != self_index else None
        elif roll < STUB_WITH_FILE_SHARE + STUB_REPEAT_SHARE and world.recent:
            other = world.recent[rng.randrange(len(world.recent))]
        else:
            other = world.stub_only(rng)
        if other is not None and all(other is not c for c in chosen):
            chosen.append(other)
    return chosen


def _related(rng: Random, entity: Entity, self_index: int, world: _World) -> str:
    chosen = _related_entities(rng, entity, self_index, world)
    if not chosen:  # no related block, never an empty one
        return ""
    chosen.sort(key=lambda other: -other.quality)  # the source lists related by quality
    parts = ["related:\n"]
    for other in chosen:
        roll = rng.random()
        # Stubs of the same page often differ in URL noise only; identity must see through it.
        if roll < 0.2:
            web_url = _with_tracking(other.url, rng)
        elif roll < 0.3:
            web_url = _toggle_www(other.url)
        else:
            web_url = other.web_url
        parts.append(_stub(other, web_url))
    parts.append("\n")
    return "".join(parts)


def _secured(rng: Random) -> str:
    body = base64.b64encode(rng.randbytes(rng.randint(200, 340))).decode()
    return f"{body};{base64.b64encode(rng.randbytes(16)).decode()}"


def _render(entity: Entity, related: str, secured: str) -> str:
    parts = [
        "---\ncategory: news\n",
        f"title: {q(entity.title)}\n",
        f"excerpt: {q(entity.excerpt)}\n",
        f"publishedDateTime: {entity.date}\n",
        f"originalUrl: {q(entity.original_url)}\n",
        f"webUrl: {q(entity.web_url)}\n",
    ]
    if entity.amp_url:
        parts.append(f"ampWebUrl: {q(entity.amp_url)}\ncdnAmpWebUrl: {q(entity.cdn_amp_url)}\n")
    parts.append(
        f"type: article\nquality: {entity.quality}\nheat: {entity.heat}\n"
        f"published: {_bool(entity.published)}\n\n"
        f"provider:\n  name: {entity.provider_name}\n  domain: {entity.provider_domain}\n\n"
        "topics:\n"
    )
    parts.extend(f"  - {topic}\n" for topic in entity.topics)
    parts.append("\n")
    if entity.images:
        parts.append("images:\n")
        for url, width, height, cached in entity.images:
            parts.append(f"  - url: {q(url)}\n    width: {width}\n    height: {height}\n"
                         f"    isCached: {_bool(cached)}\n")
        parts.append("\n")
    parts.append(related)
    parts.append(f"secured: {q(secured)}\n---\n\n")
    return "".join(parts)


def generate(out_dir: Path, count: int, seed: int = 0) -> list[Path]:
    """Write `count` article files into `out_dir` (created if missing); return their paths.

    The same seed always gives byte-identical files with the same names.
    """
    rng = Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    duplicates = round(count * DUPLICATE_RATE)
    with_file = count - duplicates
    used_urls: set[str] = set()
    files = [_entity(rng, i, True, used_urls) for i in range(with_file)]
    by_topic: dict[str, list[int]] = {}
    for i, entity in enumerate(files):
        for topic in entity.topics:
            by_topic.setdefault(topic, []).append(i)
    world = _World(files, by_topic, used_urls, deque(maxlen=RECENT_STUBS))

    # File order: each article once, with a duplicate slipped in at a random later position.
    order = list(range(with_file))
    for _ in range(duplicates):
        if with_file:
            order.insert(rng.randint(1, len(order)), rng.randrange(with_file))

    paths: list[Path] = []
    for number, index in enumerate(order):
        entity = files[index]
        text = _render(entity, _related(rng, entity, index, world), _secured(rng))
        data = text.encode()
        # Named by content, like the seeds: a rewritten duplicate gets its own name.
        path = out_dir / f"{number:06d}_{hashlib.blake2b(data, digest_size=8).hexdigest()}.txt"
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI entry: generate the corpus and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path, help="directory to write the article files into")
    parser.add_argument("--count", type=int, required=True, help="number of files to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    started = time.perf_counter()
    paths = generate(args.out_dir, args.count, args.seed)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files, {size} bytes, in {elapsed:.2f} s to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
