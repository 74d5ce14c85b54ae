"""Words customers use for the same thing in product feedback, one group per line: the
duplicate suggestions (`projections/similar.py`) look for an item's words and their
group's, and compare texts with each word read as its group's first.

Written from general e-commerce and SaaS support vocabulary, and checked against the
development half of tests/data/duplicates.json only (groups 0-17); the other half is held
out to measure how well it carries over (bench/b9_similar.py reports both).
"""

from __future__ import annotations

GROUPS = """
spreadsheet excel xlsx csv sheet sheets spreadsheets
row rows line lines record records entries
export exports exporting download downloads downloading
truncated incomplete cut cuts missing partial
change changes changing update updating edit edits modify amend adjust
address addresses
parcel parcels package packages shipment shipments box boxes consignment
driver drivers courier couriers deliverer postman
slow slowly sluggish hangs hang lag laggy ages
search searching searches lookup
catalogue catalog products
user users seat seats licence licences license licenses colleagues people accounts
team group company organisation organization
statement statements invoice invoices bill bills
vat tax taxes
gross including included inclusive
accountant accountants finance bookkeeper accounting
logout logged signed session sessions
password passwords credentials login
daily everyday morning
rain downpour soaked wet
doorstep outside porch door
ring bell doorbell knock rang
transfer transfers wire sepa
card cards credit debit visa mastercard
chart charts graph graphs diagram diagrams
dashboard dashboards overview
firefox mozilla
outlook microsoft hotmail
empty blank white
panel panels widget widgets tile tiles
audit history trail
settings setting configuration config preferences options
timestamp timestamps time date
subscription subscriptions plan membership
renew renewed renewal renews extended extends auto-renewed
reminder reminders warning notice notification notifications heads-up alert
charged billed debited
year yearly annual annually
app application
mobile phone smartphone iphone android
crash crashes crashed closes quits
upload uploading uploads attach attaching
video videos clip clips movie recording
minute minutes
german deutsch germany
translated translation language languages localised localized
voucher vouchers giftcard gift
discount promo coupon coupons
combined combine together exclusive
calendar calendars agenda
sync syncing synced connecting connected integration
duplicate duplicates double doubled doubles twice
meeting meetings event events appointment appointments
email emails mail emailed inbox e-mail
weekly week
report reports digest summary figures
customer customers buyer buyers client clients shopper shoppers
confirmation confirmations receipt receipts
refund refunds refunded reimbursement repaid
cancelled canceled expired closed
bounced rejected declined failed
"""


def _heads() -> dict[str, str]:
    head: dict[str, str] = {}
    for line in GROUPS.strip().splitlines():
        words = line.split()
        for word in words:
            if word in head:
                raise ValueError(f"thesaurus: {word!r} is in two groups")
            head[word] = words[0]
    return head


def _members(heads: dict[str, str]) -> dict[str, tuple[str, ...]]:
    members: dict[str, tuple[str, ...]] = {}
    for word, head in heads.items():
        members[head] = (*members.get(head, ()), word)
    return members


#: Each word of a group -> the group's first word.
HEAD = _heads()
#: The group's first word -> every word of the group.
MEMBERS = _members(HEAD)
