"""Deterministic, realistic directory content: item i is a pure function of (seed, i).

Nothing is stored, so a tenant of a million users costs no memory. Object ids carry their index
(scrambled, in the last 12 hex digits) and user principal names end in ``i + 1``, so a lookup by
id or UPN regenerates one item instead of searching.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from functools import lru_cache

_MASK48 = (1 << 48) - 1
_MULT = 0x5DEECE66D  # odd, so multiplication is invertible modulo 2**48
_MULT_INV = pow(_MULT, -1, 1 << 48)
_EPOCH = datetime(2018, 1, 1, tzinfo=timezone.utc)
_NOW_ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)  # fixed, so output never depends on today

GIVEN = (
    "Adele",
    "Alex",
    "Allan",
    "Amara",
    "Ana",
    "Anders",
    "Andrea",
    "Arjun",
    "Beatriz",
    "Ben",
    "Bianca",
    "Carlos",
    "Charlotte",
    "Chen",
    "Chloe",
    "Christie",
    "Daniel",
    "Debra",
    "Diego",
    "Elena",
    "Emily",
    "Enrico",
    "Erik",
    "Fatima",
    "Femi",
    "Grady",
    "Hana",
    "Hiroshi",
    "Ines",
    "Irvin",
    "Isaiah",
    "Ivan",
    "Jakob",
    "Johanna",
    "Joni",
    "Jordan",
    "Kenji",
    "Laura",
    "Lee",
    "Leila",
    "Lidia",
    "Lucas",
    "Lynne",
    "Maya",
    "Megan",
    "Miriam",
    "Mohammed",
    "Nadia",
    "Nestor",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Patti",
    "Pedro",
    "Pradeep",
    "Priya",
    "Rafael",
    "Ravi",
    "Rosa",
    "Samira",
    "Sanjay",
    "Sara",
    "Sofia",
    "Stefan",
    "Tariq",
    "Thomas",
    "Valentina",
    "Wei",
    "Yuki",
    "Zainab",
    "Zoe",
)
SURNAMES = (
    "Adams",
    "Ahmed",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Bowen",
    "Brown",
    "Castillo",
    "Chen",
    "Cohen",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fernandes",
    "Fischer",
    "Garcia",
    "Gupta",
    "Hansen",
    "Haddad",
    "Ito",
    "Jansen",
    "Johnson",
    "Kaur",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lee",
    "Lopez",
    "Martin",
    "Moreau",
    "Muller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Pereira",
    "Petrov",
    "Quinn",
    "Rahman",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Thompson",
    "Vance",
    "Varga",
    "Wagner",
    "Walker",
    "Wang",
    "Weber",
    "Wilber",
    "Wright",
    "Yilmaz",
    "Zhang",
    "Zimmermann",
)
DEPARTMENTS = {
    "Sales": ("Account Executive", "Sales Manager", "Sales Representative", "Inside Sales Specialist"),
    "Marketing": ("Marketing Manager", "Content Strategist", "Product Marketing Manager", "Brand Specialist"),
    "Engineering": (
        "Software Engineer",
        "Senior Software Engineer",
        "Engineering Manager",
        "Site Reliability Engineer",
    ),
    "Finance": ("Financial Analyst", "Accountant", "Finance Manager", "Controller"),
    "Human Resources": ("HR Generalist", "Recruiter", "HR Business Partner", "Payroll Specialist"),
    "IT": ("IT Administrator", "Helpdesk Technician", "Systems Engineer", "Security Analyst"),
    "Operations": ("Operations Manager", "Logistics Coordinator", "Buyer", "Facilities Manager"),
    "Legal": ("Paralegal", "Corporate Counsel", "Compliance Officer", "Legal Assistant"),
    "Research": ("Research Scientist", "Data Scientist", "Lab Technician", "Research Manager"),
    "Customer Success": ("Customer Success Manager", "Support Engineer", "Support Specialist", "Onboarding Specialist"),
}
_DEPT_NAMES = tuple(DEPARTMENTS)
# (office, usage location, country, city, phone prefix, preferred language)
OFFICES = (
    ("Redmond 18/2101", "US", "United States", "Redmond", "+1 425 555 0", "en-US"),
    ("New York 4/1200", "US", "United States", "New York", "+1 212 555 0", "en-US"),
    ("Seattle 3/310", "US", "United States", "Seattle", "+1 206 555 0", "en-US"),
    ("London 2/204", "GB", "United Kingdom", "London", "+44 20 7946 0", "en-GB"),
    ("Dublin 1/115", "IE", "Ireland", "Dublin", "+353 1 555 0", "en-IE"),
    ("Munich 5/501", "DE", "Germany", "Munich", "+49 89 5555 0", "de-DE"),
    ("Paris 7/720", "FR", "France", "Paris", "+33 1 55 55 0", "fr-FR"),
    ("Amsterdam 3/330", "NL", "Netherlands", "Amsterdam", "+31 20 555 0", "nl-NL"),
    ("Tokyo 12/1204", "JP", "Japan", "Tokyo", "+81 3 5555 0", "ja-JP"),
    ("Sydney 9/902", "AU", "Australia", "Sydney", "+61 2 5555 0", "en-AU"),
)
GROUP_TOPICS = (
    "Sales",
    "Marketing",
    "Engineering",
    "Finance",
    "HR",
    "IT Ops",
    "Legal",
    "Research",
    "Support",
    "Leadership",
    "Project Falcon",
    "Project Atlas",
    "Project Nova",
    "Retail",
    "Design",
    "Security",
    "Data Platform",
    "Mobile",
    "Partners",
    "Events",
)
GROUP_SUFFIXES = (
    "Team",
    "All Staff",
    "Managers",
    "EMEA",
    "Americas",
    "APAC",
    "Admins",
    "Readers",
    "Contractors",
    "Announcements",
)


def _digest(seed: int, kind: str, i: int | str) -> bytes:
    return hashlib.blake2b(f"{seed}:{kind}:{i}".encode(), digest_size=64).digest()


@lru_cache(maxsize=64)
def _mask(seed: int, kind: str) -> int:
    return int.from_bytes(_digest(seed, kind, "mask")[:6], "big")


def object_id(seed: int, kind: str, i: int, h: bytes | None = None) -> str:
    """A v4-looking GUID whose last 12 hex digits are the scrambled index."""
    h = h if h is not None else _digest(seed, kind, i)
    head = h[:10].hex()
    tail = ((i ^ _mask(seed, kind)) * _MULT) & _MASK48
    variant = "89ab"[h[10] & 3]
    return f"{head[:8]}-{head[8:12]}-4{head[13:16]}-{variant}{head[17:20]}-{tail:012x}"


def index_of(seed: int, kind: str, object_id_: str) -> int | None:
    """The index an id would carry, or None when it cannot be one of ours (check by regenerating)."""
    if len(object_id_) != 36:
        return None
    try:
        tail = int(object_id_[-12:], 16)
    except ValueError:
        return None
    return ((tail * _MULT_INV) & _MASK48) ^ _mask(seed, kind)


def _stamp(h: bytes, offset: int, span_days: int, start: datetime = _EPOCH) -> str:
    seconds = int.from_bytes(h[offset : offset + 4], "big") % (span_days * 86400)
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ascii(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def user_upn(seed: int, domain: str, i: int, h: bytes | None = None) -> str:
    """User number i's userPrincipalName alone (cheap: the range-filter index reads every one)."""
    h = h if h is not None else _digest(seed, "user", i)
    given = GIVEN[h[10] % len(GIVEN)]
    surname = SURNAMES[h[11] % len(SURNAMES)]
    return f"{_ascii(given)}.{_ascii(surname)}{i + 1}@{domain}"


def user(seed: int, domain: str, i: int) -> dict:
    """User number i: every default /users property plus the common extras."""
    h = _digest(seed, "user", i)
    given = GIVEN[h[10] % len(GIVEN)]
    surname = SURNAMES[h[11] % len(SURNAMES)]
    dept = _DEPT_NAMES[h[12] % len(_DEPT_NAMES)]
    office, usage, country, city, phone, lang = OFFICES[h[13] % len(OFFICES)]
    upn = user_upn(seed, domain, i, h)
    nick = upn.partition("@")[0]
    has_mailbox = h[14] % 12 != 0
    remote = h[15] % 9 == 0
    return {
        "id": object_id(seed, "user", i, h),
        "businessPhones": [] if remote else [f"{phone}{100 + h[16] % 900}"],
        "displayName": f"{given} {surname}",
        "givenName": given,
        "jobTitle": DEPARTMENTS[dept][h[17] % 4] if h[18] % 15 else None,
        "mail": upn if has_mailbox else None,
        "mobilePhone": f"{phone}{100 + h[19] % 900}" if h[20] % 3 == 0 else None,
        "officeLocation": None if remote else office,
        "preferredLanguage": lang,
        "surname": surname,
        "userPrincipalName": upn,
        "accountEnabled": h[21] % 25 != 0,
        "city": city,
        "companyName": None,
        "country": country,
        "createdDateTime": _stamp(h, 22, 2900),
        "department": dept,
        "employeeId": f"{100000 + i}",
        "mailNickname": nick,
        "usageLocation": usage,
        "userType": "Member",
        "onPremisesSyncEnabled": None,
        "proxyAddresses": [f"SMTP:{upn}"] if has_mailbox else [],
    }


def group(seed: int, domain: str, i: int) -> dict:
    """Group number i: a Microsoft 365, security or distribution group."""
    h = _digest(seed, "group", i)
    topic = GROUP_TOPICS[h[10] % len(GROUP_TOPICS)]
    suffix = GROUP_SUFFIXES[h[11] % len(GROUP_SUFFIXES)]
    name = f"{topic} {suffix} {i + 1}"
    nick = _ascii(name)
    kind = h[12] % 10  # 0-3 Microsoft 365, 4-8 security, 9 distribution
    unified = kind < 4
    mail_enabled = unified or kind == 9
    mail = f"{nick}@{domain}" if mail_enabled else None
    return {
        "id": object_id(seed, "group", i, h),
        "deletedDateTime": None,
        "classification": None,
        "createdDateTime": _stamp(h, 13, 2900),
        "description": f"{topic} – {suffix.lower()}",
        "displayName": name,
        "expirationDateTime": None,
        "groupTypes": ["Unified"] if unified else [],
        "isAssignableToRole": None,
        "mail": mail,
        "mailEnabled": mail_enabled,
        "mailNickname": nick,
        "membershipRule": None,
        "onPremisesSyncEnabled": None,
        "preferredLanguage": None,
        "proxyAddresses": [f"SMTP:{mail}"] if mail else [],
        "renewedDateTime": _stamp(h, 17, 2900),
        "resourceProvisioningOptions": [],
        "securityEnabled": not mail_enabled or h[21] % 4 == 0,
        "securityIdentifier": f"S-1-12-1-{int.from_bytes(h[22:26], 'big')}-{int.from_bytes(h[26:30], 'big')}",
        "theme": None,
        "visibility": ("Private" if h[30] % 3 == 0 else "Public") if unified else None,
    }


def group_member_indices(seed: int, i: int, n_users: int) -> list[int]:
    """Which users group i holds: a deterministic stride through the user range."""
    if n_users <= 0:
        return []
    h = _digest(seed, "members", i)
    count = min(n_users, 2 + h[0] % 40)
    start = int.from_bytes(h[1:5], "big") % n_users
    step = 1 + int.from_bytes(h[5:7], "big") % max(1, min(997, n_users))
    seen: dict[int, None] = {}
    for k in range(count):
        seen[(start + k * step) % n_users] = None
    return list(seen)


_OS = (
    ("Windows", ("10.0.19045.4291", "10.0.22631.3447", "10.0.22621.3296"), "DESKTOP-", "AzureAd"),
    ("Windows", ("10.0.22631.3447", "10.0.26100.1742"), "LAPTOP-", "AzureAd"),
    ("Windows", ("10.0.17763.5696", "10.0.20348.2402"), "SRV-", "ServerAd"),
    ("iOS", ("17.4.1", "17.5", "16.7.8"), "iPhone-", "Workplace"),
    ("Android", ("14.0", "13.0", "12.0"), "Android-", "Workplace"),
    ("MacMDM", ("14.4.1", "13.6.6"), "MacBook-", "Workplace"),
)


def device(seed: int, i: int) -> dict:
    """Device number i: Entra-joined PCs, servers and registered phones and Macs."""
    h = _digest(seed, "device", i)
    os_name, versions, prefix, trust = _OS[h[10] % len(_OS)]
    tag = base64.b32encode(h[11:16]).decode()[:7]
    return {
        "id": object_id(seed, "device", i, h),
        "deletedDateTime": None,
        "accountEnabled": h[16] % 20 != 0,
        "approximateLastSignInDateTime": _stamp(h, 17, 120, _NOW_ANCHOR - timedelta(days=120)),
        "createdDateTime": _stamp(h, 21, 2500),
        "deviceId": str(uuid.UUID(bytes=h[32:48], version=4)),
        "displayName": f"{prefix}{tag}",
        "isCompliant": h[25] % 5 != 0 if trust != "ServerAd" else None,
        "isManaged": h[26] % 4 != 0,
        "manufacturer": None,
        "model": None,
        "onPremisesSyncEnabled": True if trust == "ServerAd" else None,
        "operatingSystem": os_name,
        "operatingSystemVersion": versions[h[27] % len(versions)],
        "physicalIds": [],
        "profileType": "RegisteredDevice",
        "registrationDateTime": _stamp(h, 28, 2500),
        "systemLabels": [],
        "trustType": trust,
    }


_SUBJECTS = (
    "Quarterly review agenda",
    "Re: Budget for next year",
    "Team offsite logistics",
    "Your expense report was approved",
    "Invitation: Architecture sync",
    "Re: Customer escalation",
    "Weekly status update",
    "Welcome to the team!",
    "Action required: security training",
    "Fwd: Contract draft v3",
    "Lunch on Friday?",
    "Release notes 4.2",
)


def messages(seed: int, user_item: dict) -> list[dict]:
    """A handful of inbox messages for one user (a function of the seed and the user's id)."""
    owner = user_item.get("mail") or user_item.get("userPrincipalName") or ""
    h0 = _digest(seed, "mailbox", user_item["id"])
    out = []
    for k in range(3 + h0[0] % 5):
        h = _digest(seed, "message", f"{user_item['id']}:{k}")
        sender_name = f"{GIVEN[h[0] % len(GIVEN)]} {SURNAMES[h[1] % len(SURNAMES)]}"
        sender_addr = f"{_ascii(sender_name.split()[0])}.{_ascii(sender_name.split()[1])}@{owner.partition('@')[2] or 'example.com'}"
        received = _stamp(h, 2, 60, _NOW_ANCHOR - timedelta(days=60))
        subject = _SUBJECTS[h[6] % len(_SUBJECTS)]
        preview = f'Hi {user_item.get("givenName") or "there"}, following up on "{subject}".'
        sender = {"emailAddress": {"name": sender_name, "address": sender_addr}}
        out.append(
            {
                "id": "AAMkAG" + base64.urlsafe_b64encode(h[7:55]).decode().rstrip("="),
                "createdDateTime": received,
                "lastModifiedDateTime": received,
                "changeKey": base64.b64encode(h[55:64]).decode(),
                "categories": [],
                "receivedDateTime": received,
                "sentDateTime": received,
                "hasAttachments": h[6] % 4 == 0,
                "internetMessageId": f"<{h[10:18].hex()}@mail.example.com>",
                "subject": subject,
                "bodyPreview": preview,
                "importance": "high" if h[20] % 10 == 0 else "normal",
                "parentFolderId": "AQMkAGInbox",
                "conversationId": "AAQkAG" + base64.urlsafe_b64encode(h[21:37]).decode().rstrip("="),
                "isRead": h[38] % 3 != 0,
                "isDraft": False,
                "body": {"contentType": "html", "content": f"<html><body><p>{preview}</p></body></html>"},
                "sender": sender,
                "from": sender,
                "toRecipients": [{"emailAddress": {"name": user_item.get("displayName"), "address": owner}}],
                "ccRecipients": [],
                "bccRecipients": [],
                "replyTo": [],
            }
        )
    out.sort(key=lambda m: str(m["receivedDateTime"]), reverse=True)
    return out


# Real built-in role template ids (they are the same in every tenant).
_ROLES = (
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ),
    (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
    ),
    (
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Global Reader",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps.",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
)


def directory_roles(seed: int) -> list[dict]:
    return [
        {
            "id": str(uuid.UUID(bytes=_digest(seed, "role", tid)[:16], version=4)),
            "deletedDateTime": None,
            "description": desc,
            "displayName": name,
            "roleTemplateId": tid,
        }
        for tid, name, desc in _ROLES
    ]


def _org_name(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def _domain_names(domain: str) -> list[tuple[str, bool, bool]]:
    """(name, isDefault, isInitial): the custom domain plus the initial onmicrosoft.com one."""
    if domain.endswith(".onmicrosoft.com"):
        return [(domain, True, True)]
    return [(domain, True, False), (f"{domain.split('.')[0]}.onmicrosoft.com", False, True)]


def organization(tenant_id: str, domain: str) -> dict:
    return {
        "id": tenant_id,
        "deletedDateTime": None,
        "businessPhones": ["+1 425 555 0100"],
        "city": "Redmond",
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": "2019-04-12T09:30:11Z",
        "defaultUsageLocation": None,
        "displayName": _org_name(domain),
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "postalCode": "98052",
        "preferredLanguage": "en",
        "privacyProfile": None,
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": "WA",
        "street": "1 Microsoft Way",
        "technicalNotificationMails": [f"admin@{domain}"],
        "tenantType": "AAD",
        "assignedPlans": [],
        "provisionedPlans": [],
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": default,
                "isInitial": initial,
                "name": name,
                "type": "Managed",
            }
            for name, default, initial in _domain_names(domain)
        ],
    }


def domains(domain: str) -> list[dict]:
    return [
        {
            "id": name,
            "authenticationType": "Managed",
            "availabilityStatus": None,
            "isAdminManaged": True,
            "isDefault": default,
            "isInitial": initial,
            "isRoot": True,
            "isVerified": True,
            "passwordNotificationWindowInDays": None,
            "passwordValidityPeriodInDays": 2147483647,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"],
            "state": None,
        }
        for name, default, initial in _domain_names(domain)
    ]


# Real SKU ids for common licences.
_SKUS = (
    ("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 0.9),
    ("efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "EMS", 0.6),
    ("a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", "POWER_BI_STANDARD", 0.2),
)


def subscribed_skus(tenant_id: str, domain: str, n_users: int) -> list[dict]:
    out = []
    for sku_id, part, share in _SKUS:
        bought = max(25, int(n_users * share * 1.1) // 5 * 5 + 5)
        out.append(
            {
                "id": f"{tenant_id}_{sku_id}",
                "accountId": tenant_id,
                "accountName": _org_name(domain),
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": min(bought, int(n_users * share)),
                "prepaidUnits": {"enabled": bought, "suspended": 0, "warning": 0, "lockedOut": 0},
                "servicePlans": [],
                "skuId": sku_id,
                "skuPartNumber": part,
                "subscriptionIds": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{sku_id}"))],
            }
        )
    return out
