"""What the demo organisation is made of: teams and their habits, outcomes, themes of feedback
with the words customers use, and the texts of commits, incidents and replies."""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 1.0
DAY = 24.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class Habits:
    """How a team works, in hours (each a median; the world draws around it)."""

    tier: str  # the DORA tier its habits should land in (for the docs and tests)
    triage: float  # received → triaged
    decide: float  # proposed → accepted or declined
    build: float  # started → the work is ready to deploy
    commit_lag: float  # a commit's authoring → its deployment (everyday commits)
    deploy_days_per_week: float  # days a week with a production deployment
    deploy_minutes: float  # how long a deployment runs
    deploy_failure: float  # share of deployments that fail outright
    incident: float  # share of successful deployments that cause an incident
    recovery: float  # incident opened → resolved


ELITE = Habits("elite", 3 * HOUR, 1.5 * DAY, 4 * DAY, 5 * HOUR, 6.0, 6, 0.01, 0.03, 0.5 * HOUR)
HIGH = Habits("high", 1 * DAY, 4 * DAY, 10 * DAY, 2 * DAY, 2.5, 12, 0.02, 0.06, 5 * HOUR)
MEDIUM = Habits("medium", 3 * DAY, 9 * DAY, 20 * DAY, 9 * DAY, 0.5, 25, 0.04, 0.09, 2 * DAY)
LOW = Habits("low", 9 * DAY, 20 * DAY, 40 * DAY, 70 * DAY, 0.12, 50, 0.12, 0.2, 12 * DAY)


@dataclass(frozen=True)
class Outcome:
    statement: str
    measure: str
    target: str


OUTCOMES = (
    Outcome(
        "Customers pay without friction",
        "checkout conversion rate (paid orders / started checkouts)",
        ">= 92%",
    ),
    Outcome(
        "Customers resolve billing questions without calling us",
        "billing calls per 1,000 active accounts per week",
        "< 4",
    ),
    Outcome(
        "New customers reach first value on day one",
        "share of sign-ups that complete a first project within 24 h",
        ">= 60%",
    ),
    Outcome(
        "Customers always know where their order is",
        "'where is my order' contacts per 1,000 orders",
        "< 10",
    ),
    Outcome(
        "The mobile app does everything the web does",
        "share of key tasks completed on mobile without switching to the web",
        ">= 85%",
    ),
    Outcome(
        "Customers find answers themselves",
        "self-service resolution rate in the help center",
        ">= 70%",
    ),
)


@dataclass(frozen=True)
class Theme:
    """Something many customers ask about, and the decision a team can take on it."""

    touchpoint: str
    outcome: int  # index into OUTCOMES
    tags: tuple[str, ...]
    asks: tuple[str, ...]  # how customers put it
    titles: tuple[str, ...]  # the decision, first time and follow-up
    rationale: str
    options: tuple[str, ...]
    area: str  # the code area commits name


@dataclass(frozen=True)
class Team:
    slug: str
    name: str
    repositories: tuple[str, ...]
    outcomes: tuple[int, ...]
    habits: Habits
    members: tuple[tuple[str, tuple[str, ...]], ...]
    themes: tuple[Theme, ...]
    bugs: tuple[str, ...]  # small defects customers report, fixed directly with FB-n
    incidents: tuple[str, ...]


TEAMS = (
    Team(
        slug="checkout",
        name="Checkout & Payments",
        repositories=("acme/checkout-api", "acme/payments-web"),
        outcomes=(0, 1),
        habits=ELITE,
        members=(
            ("amara", ("product discovery", "payments", "sql")),
            ("jonas", ("python", "postgres", "sre")),
            ("li.wei", ("typescript", "react", "accessibility")),
            ("priya", ("python", "payments", "fraud")),
            ("tomas", ("ux research", "interaction design")),
            ("noor", ("kotlin", "observability")),
        ),
        themes=(
            Theme(
                "checkout",
                0,
                ("payments", "wallets"),
                (
                    "Please let me pay with Apple Pay, typing my card on the phone is painful",
                    "No Google Pay at checkout? Every other shop has it",
                    "I gave up on my order because I had to find my card and type it in",
                    "Our customers keep asking for wallet payments at checkout",
                ),
                ("Offer Apple Pay and Google Pay at checkout", "Wallets on the mobile web"),
                "Wallet payments remove the most-cited reason for abandoned checkouts "
                "on mobile, and our payment provider supports them without new contracts.",
                (
                    "Add Apple Pay and Google Pay through the current provider",
                    "Add PayPal first, wallets later",
                    "Do nothing: card autofill is good enough",
                ),
                "payments",
            ),
            Theme(
                "checkout",
                0,
                ("coupons", "bug-prone"),
                (
                    "The discount code field rejects codes that are valid in the newsletter",
                    "Coupon applied, then disappeared when I changed the delivery address",
                    "Why can't I use two vouchers on one order?",
                    "Promo code says expired but the email says it is valid until Sunday",
                ),
                ("Rework coupon validation at checkout", "Allow stacking of one voucher"),
                "Coupon errors are the second most common checkout complaint and support "
                "grants the discount by hand anyway, which costs more than fixing it.",
                (
                    "Validate codes server-side against the campaign calendar",
                    "Keep client-side checks and improve the error message",
                ),
                "coupons",
            ),
            Theme(
                "billing",
                1,
                ("invoices", "self-service"),
                (
                    "I need a proper VAT invoice with our company address for every payment",
                    "Where do I download past invoices? I had to call you to get them",
                    "Our accountant needs invoices in PDF, not a screenshot of the order page",
                    "Can invoices go to finance@ automatically instead of my inbox?",
                ),
                ("Self-service invoice downloads", "Send invoices to a billing contact"),
                "Invoice requests are a third of billing calls; every one could be "
                "self-service from the account page.",
                (
                    "Invoice archive in the account page with PDF download",
                    "Email every invoice to a configurable billing address",
                    "Keep it manual but answer faster",
                ),
                "invoices",
            ),
            Theme(
                "billing",
                1,
                ("pricing", "plans"),
                (
                    "I was charged twice this month and nobody can tell me why",
                    "Switching plans mid-month charged me the full price again",
                    "The renewal email came after the charge, please warn me before",
                    "Proration on plan changes is confusing, show me the math",
                ),
                ("Clear proration and renewal notices", "Renewal reminders a week ahead"),
                "Surprise charges drive detractor scores and chargebacks; telling customers "
                "before we charge is cheap.",
                (
                    "Show a proration preview before confirming a plan change",
                    "Send a reminder seven days before renewal",
                    "Refund on request only",
                ),
                "billing",
            ),
        ),
        bugs=(
            "The card number field jumps the cursor to the end when I fix a typo",
            "Checkout button stays grey on Safari until I reload",
            "Order total shows 0.00 for a second before the real price appears",
            "Receipt email shows the wrong currency symbol for CHF",
        ),
        incidents=(
            "Card payments declined for all Visa cards",
            "Checkout API 5xx rate above 5%",
            "Payment webhook backlog, orders stuck in pending",
        ),
    ),
    Team(
        slug="onboarding",
        name="Onboarding & Accounts",
        repositories=("acme/signup-web", "acme/identity-service"),
        outcomes=(2,),
        habits=HIGH,
        members=(
            ("sofia", ("product discovery", "copywriting")),
            ("kwame", ("go", "identity", "security")),
            ("hannah", ("typescript", "react", "ux research")),
            ("mateo", ("python", "data analysis")),
            ("yuki", ("accessibility", "interaction design")),
        ),
        themes=(
            Theme(
                "onboarding",
                2,
                ("sign-up", "sso"),
                (
                    "Let us sign in with Google Workspace, nobody wants another password",
                    "We need SAML single sign-on before IT approves the tool",
                    "Invited colleagues never get the invitation email",
                    "Sign-up asks for a credit card before I can even try it",
                ),
                ("Sign in with Google and Microsoft", "SAML SSO for business plans"),
                "Half of abandoned sign-ups stop at the password step; social and SSO sign-in "
                "is what business buyers expect.",
                (
                    "Add Google and Microsoft sign-in via OpenID Connect",
                    "Build SAML first for enterprise",
                    "Magic links instead of passwords",
                ),
                "auth",
            ),
            Theme(
                "onboarding",
                2,
                ("first-run", "guidance"),
                (
                    "After signing up I had no idea what to do first",
                    "An example project would help me understand how this works",
                    "The welcome tour is too long, I skipped it and got lost",
                    "Importing my data from a spreadsheet failed without saying why",
                ),
                ("A sample project for every new account", "Guided spreadsheet import"),
                "Accounts that finish a first project in the first day retain twice as well; "
                "most never find out how to start one.",
                (
                    "Create a sample project at sign-up",
                    "Shorter interactive checklist",
                    "Send a day-two email with tips",
                ),
                "first-run",
            ),
            Theme(
                "account",
                2,
                ("account", "security"),
                (
                    "Password reset link expires before the email even arrives",
                    "Please add two-factor authentication, our security team insists",
                    "I can't change the email address on my account",
                ),
                ("Two-factor authentication for every account", "Self-service email change"),
                "Security reviews block business deals without 2FA, and account-change "
                "requests take support a call each.",
                (
                    "TOTP apps and recovery codes",
                    "SMS codes only",
                    "Wait for passkeys support",
                ),
                "account",
            ),
        ),
        bugs=(
            "The 'resend invitation' button does nothing",
            "Time zone in my profile resets to UTC after saving",
            "Sign-up form says my company name is invalid because it has an ampersand",
        ),
        incidents=(
            "Sign-in failing for accounts with SSO enabled",
            "Verification emails delayed by more than an hour",
        ),
    ),
    Team(
        slug="mobile",
        name="Mobile Apps",
        repositories=("acme/mobile-ios", "acme/mobile-android"),
        outcomes=(4,),
        habits=MEDIUM,
        members=(
            ("elena", ("product discovery", "mobile analytics")),
            ("oskar", ("swift", "ios")),
            ("fatima", ("kotlin", "android")),
            ("ravi", ("react native", "testing")),
            ("chloe", ("interaction design", "accessibility")),
        ),
        themes=(
            Theme(
                "mobile",
                4,
                ("offline", "sync"),
                (
                    "The app is useless on the train, it needs to work offline",
                    "Changes I made on my phone disappeared when I got signal again",
                    "Sync takes forever on a slow connection",
                ),
                ("Offline mode with background sync", "Conflict resolution for offline edits"),
                "Field customers work without signal for hours; losing edits is the top "
                "reason for one-star reviews.",
                (
                    "Local database with background sync",
                    "Read-only offline cache first",
                    "Do nothing: point users to the web",
                ),
                "sync",
            ),
            Theme(
                "mobile",
                4,
                ("notifications",),
                (
                    "I get push notifications for everything, let me choose which ones",
                    "Notifications arrive hours late on Android",
                    "Please add a dark mode, the app is blinding at night",
                    "Widgets for the home screen would save me opening the app",
                ),
                ("Notification preferences per type", "Dark mode on iOS and Android"),
                "Notification fatigue leads to uninstalls; per-type settings keep people "
                "subscribed to what matters.",
                (
                    "Per-type notification settings in the app",
                    "Digest once a day",
                    "Keep all-or-nothing",
                ),
                "notifications",
            ),
            Theme(
                "mobile",
                4,
                ("parity",),
                (
                    "I can't edit my billing details in the app, only on the website",
                    "Reports are missing in the mobile app",
                    "Can't attach photos from the gallery, only the camera",
                ),
                ("Account and billing settings in the app", "Reports on mobile"),
                "Every time a customer has to switch to the web we lose the task; "
                "billing settings are the most frequent switch.",
                (
                    "Native account and billing screens",
                    "Embed the web pages in a web view",
                ),
                "parity",
            ),
        ),
        bugs=(
            "App crashes when I rotate the phone on the order screen",
            "Login with Face ID stopped working after the update",
            "Font is cut off on small Android screens",
        ),
        incidents=(
            "iOS app crash on launch for iOS 17.4",
            "Android push notifications not delivered",
        ),
    ),
    Team(
        slug="fulfilment",
        name="Delivery & Tracking",
        repositories=("acme/fulfilment-core",),
        outcomes=(3,),
        habits=LOW,
        members=(
            ("dmitri", ("java", "logistics")),
            ("grace", ("product discovery", "operations")),
            ("samuel", ("java", "oracle", "integration")),
            ("ines", ("python", "data analysis")),
        ),
        themes=(
            Theme(
                "delivery",
                3,
                ("tracking",),
                (
                    "Where is my order? The tracking page has said 'processing' for four days",
                    "The tracking link in the email goes to a page that doesn't exist",
                    "Please send a text message when the courier is close",
                    "I had to call to find out my parcel went to the wrong depot",
                ),
                ("Live order tracking with courier updates", "Delivery notifications by SMS"),
                "'Where is my order' is the largest contact reason; couriers publish events "
                "we already receive but do not show.",
                (
                    "Show courier events on the tracking page",
                    "Email every status change",
                    "Outsource tracking to a third-party page",
                ),
                "tracking",
            ),
            Theme(
                "delivery",
                3,
                ("returns",),
                (
                    "Returning an item needs a phone call, please make it self-service",
                    "My refund took three weeks after the return arrived",
                    "Let me choose a pick-up slot for the return",
                ),
                ("Self-service returns with printable labels", "Refund on return scan"),
                "Returns by phone cost a support call each and delay refunds; most carriers "
                "offer label APIs.",
                (
                    "Printable return labels in the account",
                    "QR codes for drop-off points",
                    "Keep returns by phone",
                ),
                "returns",
            ),
        ),
        bugs=(
            "Delivery date shows yesterday for orders placed after 10pm",
            "Address autocomplete swaps house number and street",
        ),
        incidents=(
            "Courier status import stopped",
            "Orders not released to the warehouse",
        ),
    ),
    Team(
        slug="helpcenter",
        name="Help Center & Support Tools",
        repositories=("acme/helpcenter", "acme/support-widget"),
        outcomes=(5, 1),
        habits=HIGH,
        members=(
            ("marta", ("product discovery", "support operations")),
            ("ahmed", ("ruby", "search")),
            ("julia", ("technical writing", "content design")),
            ("ben", ("typescript", "react")),
        ),
        themes=(
            Theme(
                "support",
                5,
                ("search", "self-service"),
                (
                    "The help center search never finds anything useful",
                    "I searched for 'refund' and got articles about shipping",
                    "Articles are outdated, the screenshots show the old design",
                ),
                ("Better help center search", "Keep articles current with product releases"),
                "Customers who cannot find an answer open a ticket; search misses are "
                "visible in our logs and fixable.",
                (
                    "Switch to full-text search with synonyms",
                    "Hand-curated top articles",
                    "Chatbot in front of search",
                ),
                "search",
            ),
            Theme(
                "support",
                5,
                ("chat", "contact"),
                (
                    "The chat widget covers the checkout button on mobile",
                    "I waited 40 minutes in chat and got disconnected",
                    "Please show me my open tickets somewhere instead of email threads",
                ),
                ("Ticket status page for customers", "Chat that survives a reconnect"),
                "Customers chase tickets by phone because they cannot see their status.",
                (
                    "Ticket list in the account",
                    "Status emails only",
                ),
                "widget",
            ),
        ),
        bugs=(
            "Help article links in the app open a blank page",
            "Contact form loses my message if I attach a file",
        ),
        incidents=("Help center down after CDN change",),
    ),
    Team(
        slug="insights",
        name="Reporting & Analytics",
        repositories=("acme/reports-api",),
        outcomes=(0,),
        habits=MEDIUM,
        members=(
            ("oliver", ("product discovery", "data analysis")),
            ("zainab", ("python", "postgres", "dbt")),
            ("lucas", ("typescript", "data visualisation")),
        ),
        themes=(
            Theme(
                "reporting",
                0,
                ("exports", "reports"),
                (
                    "I need to export my orders to Excel for our monthly report",
                    "Scheduled reports by email would save me an hour every Monday",
                    "The dashboard numbers don't match the CSV export",
                ),
                ("Scheduled report emails", "One source of truth for dashboard and export"),
                "Power users rebuild reports by hand every week; scheduled exports keep "
                "them in the product.",
                (
                    "Scheduled CSV and XLSX exports",
                    "A public API for reporting",
                ),
                "reports",
            ),
        ),
        bugs=(
            "Date filter on the dashboard ignores the last day of the month",
            "CSV export uses semicolons even though I picked commas",
        ),
        incidents=("Reports API timeouts",),
    ),
)

PRAISE = (
    "Honestly the best ordering experience we have had, keep it up",
    "Support sorted out my problem in five minutes, thank you Marta!",
    "Love the new dashboard, it finally shows what I need",
    "Fast delivery and the app is lovely to use",
    "Recommended you to three colleagues already",
)

#: Channels and how often feedback arrives through each.
CHANNEL_WEIGHTS = {
    "web": 20,
    "chat": 15,
    "email": 14,
    "support": 13,
    "survey": 15,
    "phone": 7,
    "social": 8,
    "sales": 5,
    "internal": 3,
}

SEGMENTS = (("enterprise", 2), ("mid-market", 3), ("smb", 5), ("consumer", 6))

COMPANIES = (
    "Northwind Traders",
    "Contoso",
    "Fabrikam",
    "Tailspin Toys",
    "Wingtip Partners",
    "Adventure Works",
    "Blue Yonder Airlines",
    "Coho Winery",
    "Lamna Healthcare",
    "Proseware",
    "Litware",
    "Woodgrove Bank",
    "Alpine Ski House",
    "Graphic Design Institute",
    "Humongous Insurance",
    "Trey Research",
)

FIRST_NAMES = (
    "anna",
    "ben",
    "carla",
    "deepak",
    "emre",
    "fiona",
    "gustav",
    "hana",
    "ivan",
    "jade",
    "kofi",
    "lena",
    "miguel",
    "nadia",
    "omar",
    "paula",
    "quentin",
    "rosa",
    "sven",
    "tara",
    "ugo",
    "vera",
    "wen",
    "ximena",
    "yusuf",
    "zoe",
)


def frame(channel: str, ask: str, who: str, company: str) -> str:
    """How a customer's words look when they arrive through `channel`."""
    if channel == "email":
        return f"Hello,\n\n{ask}.\n\nThanks,\n{who.title()} ({company})"
    if channel == "phone":
        return f"Call note: customer from {company} says: {ask.lower()}."
    if channel == "chat":
        return f"hi, {ask[0].lower()}{ask[1:]}"
    if channel == "social":
        return f"@acme {ask} #customerservice"
    if channel == "support":
        return f"Ticket: {ask}. Customer expects an answer this week."
    if channel == "sales":
        return f"Prospect {company} on the demo call: {ask.lower()}. Could block the deal."
    if channel == "internal":
        return f"From customer success ({company} account review): {ask.lower()}."
    return f"{ask}."


#: How each team's survey answers move over the demo's months: two teams win customers
#: over, one loses them (its detractors pile up), the others hold steady.
NPS_TRENDS = {"checkout": "improving", "onboarding": "improving", "fulfilment": "declining"}

#: Weights of the scores 0..10 for a steady team, and at the bad and good ends of a trend.
NPS_STEADY = (3, 2, 3, 4, 5, 6, 7, 9, 9, 6, 4)
NPS_BAD = (6, 5, 6, 7, 8, 8, 7, 7, 5, 3, 2)
NPS_GOOD = (1, 1, 1, 1, 2, 3, 4, 8, 11, 12, 10)

#: How each team calls its detractors back: the share it calls, and the median hours from
#: the answer to the call. The improving teams call most back within a day or so; the
#: declining one seldom does, and late; the others in between.
FOLLOW_UP_HABITS = {
    "checkout": (0.85, 16.0),
    "onboarding": (0.75, 26.0),
    "fulfilment": (0.25, 110.0),
}
FOLLOW_UP_USUAL = (0.55, 45.0)
FOLLOW_UP_HOW = ("call", "call", "email")

#: What detractors say most, whatever they asked about: nobody answers them. The why
#: themes (`GET /api/metrics/nps/why`) should find it.
WAITING = (
    "I waited days for anyone to answer",
    "still waiting for an answer from support after a week",
    "support takes days to answer, I waited and waited",
    "I keep waiting on hold and nobody calls back",
    "waited two weeks, nobody answered my emails",
)
DETRACTOR_OPENERS = ("Frustrating: ", "Not good: ", "")
PASSIVE_OPENERS = ("Good overall, but ", "Fine, though ", "It does the job, but ")
PROMOTER_OPENERS = ("Works well for us. One wish: ", "Great product. ", "Love it, and ")


def nps_score(trend: str | None, progress: float, draw: float) -> int:
    """A survey score for a team with `trend` ("improving", "declining" or steady) at
    `progress` (0 at the demo's start, 1 at its end), from a uniform `draw` in [0, 1)."""
    if trend == "improving":
        start, end = NPS_BAD, NPS_GOOD
    elif trend == "declining":
        start, end = NPS_GOOD, NPS_BAD
    else:
        start = end = NPS_STEADY
    weights = [a + (b - a) * progress for a, b in zip(start, end, strict=True)]
    target = draw * sum(weights)
    for score, weight in enumerate(weights):
        target -= weight
        if target < 0:
            return score
    return 10


def nps_why(score: int, ask: str, draw: float) -> str:
    """The "why" a survey respondent gives with their score; `draw` in [0, 1) picks the
    words (most detractors also say they waited for an answer)."""
    wish = f"{ask[0].lower()}{ask[1:]}"
    if score >= 9:
        return PROMOTER_OPENERS[int(draw * len(PROMOTER_OPENERS))] + wish
    if score >= 7:
        return PASSIVE_OPENERS[int(draw * len(PASSIVE_OPENERS))] + wish
    opener = DETRACTOR_OPENERS[int(draw * len(DETRACTOR_OPENERS))]
    if draw < 0.6:
        waited = WAITING[int(draw / 0.6 * len(WAITING))]
        first = waited[0] if opener.endswith(": ") else waited[0].upper()
        return f"{opener}{first}{waited[1:]}. {ask}"
    return opener + (wish if opener else ask)


DECLINE_REASONS = (
    "Not aligned with our outcomes this half-year",
    "Works as designed; we explained the behaviour to the customer",
    "Could not reproduce after several attempts",
    "Only one customer asked; we will watch for more demand",
)

DEFER_REASONS = (
    "Revisit after the quarterly planning",
    "Depends on the new payment provider contract",
    "Waiting for the platform team's API",
)

CLOSE_HOW = ("email", "in-app message", "call", "changelog", "support reply")

REOPEN_REASONS = (
    "Customer writes back: it still happens on Android",
    "Customer says the fix did not reach their account",
    "Same problem again after the last update",
)

CHORE_COMMITS = (
    "chore: bump dependencies",
    "refactor: extract price formatting",
    "test: cover the empty-cart edge case",
    "docs: update the runbook",
    "ci: cache the dependency download",
    "perf: add an index for the nightly job",
    "fix: typo in an error message",
    "refactor: remove a dead feature flag",
    "build: pin the base image",
    "feat: log request ids in every handler",
)
