"""A fixed, fake inventory of phone numbers for sale (AvailablePhoneNumbers).

Every number is one reserved for fiction (North American 555-01xx, Ofcom's drama ranges), so nothing here
can ring a real person even if it leaked into a real account.
"""

from dataclasses import dataclass

KEYPAD = {
    **dict.fromkeys("abc", "2"),
    **dict.fromkeys("def", "3"),
    **dict.fromkeys("ghi", "4"),
    **dict.fromkeys("jkl", "5"),
    **dict.fromkeys("mno", "6"),
    **dict.fromkeys("pqrs", "7"),
    **dict.fromkeys("tuv", "8"),
    **dict.fromkeys("wxyz", "9"),
}


@dataclass(frozen=True)
class ForSale:
    phone_number: str
    friendly_name: str
    country: str
    kind: str  # Local, TollFree, Mobile
    # Toll-free and mobile numbers belong to no place.
    locality: str = ""
    region: str = ""
    postal_code: str = ""
    lata: str = ""
    rate_center: str = ""
    sms: bool = True
    mms: bool = True
    address_requirements: str = "none"

    def as_json(self) -> dict:
        return {
            "friendly_name": self.friendly_name,
            "phone_number": self.phone_number,
            "lata": self.lata or None,
            "locality": self.locality or None,
            "rate_center": self.rate_center or None,
            "latitude": None,
            "longitude": None,
            "region": self.region or None,
            "postal_code": self.postal_code or None,
            "iso_country": self.country,
            "address_requirements": self.address_requirements,
            "beta": False,
            # Twilio's live API capitalises SMS and MMS.
            "capabilities": {"voice": True, "SMS": self.sms, "MMS": self.mms, "fax": False},
        }


def _north_american(area: str, locality: str, region: str, postal: str, country: str = "US") -> list[ForSale]:
    return [
        ForSale(
            phone_number=f"+1{area}555{line:04d}",
            friendly_name=f"({area}) 555-{line:04d}",
            country=country,
            kind="Local",
            locality=locality,
            region=region,
            postal_code=postal,
            lata="722",
            rate_center=locality.upper().replace(" ", "")[:10],
        )
        for line in range(150, 162)
    ]


def _build() -> list[ForSale]:
    numbers: list[ForSale] = []
    numbers += _north_american("415", "San Francisco", "CA", "94103")
    numbers += _north_american("212", "New York", "NY", "10001")
    numbers += _north_american("312", "Chicago", "IL", "60601")
    numbers += _north_american("206", "Seattle", "WA", "98101")
    numbers += _north_american("604", "Vancouver", "BC", "V6B", country="CA")
    numbers += _north_american("416", "Toronto", "ON", "M5H", country="CA")
    for prefix in ("800", "833", "844", "855", "866", "877", "888"):
        numbers += [
            ForSale(
                phone_number=f"+1{prefix}555{line:04d}",
                friendly_name=f"({prefix}) 555-{line:04d}",
                country="US",
                kind="TollFree",
                mms=False,
            )
            for line in range(150, 156)
        ]
    numbers += [
        ForSale(
            phone_number=f"+44207946{line:04d}",
            friendly_name=f"+44 20 7946 {line:04d}",
            country="GB",
            kind="Local",
            locality="London",
            region="London",
            sms=False,
            mms=False,
            address_requirements="local",
        )
        for line in range(100, 112)
    ]
    numbers += [
        ForSale(
            phone_number=f"+447700900{line:03d}",
            friendly_name=f"+44 7700 900{line:03d}",
            country="GB",
            kind="Mobile",
            mms=False,
        )
        for line in range(100, 112)
    ]
    return numbers


INVENTORY = _build()


def for_sale(phone_number: str) -> bool:
    """May IncomingPhoneNumbers.create buy this number?"""
    return any(number.phone_number == phone_number for number in INVENTORY)


def countries() -> list[str]:
    return sorted({number.country for number in INVENTORY})


def kinds_in(country: str) -> set[str]:
    return {number.kind for number in INVENTORY if number.country == country}


def _contains_pattern(contains: str) -> str:
    """Twilio's Contains: digits, letters (keypad), and * for any one digit."""
    return "".join(KEYPAD.get(char, char) for char in contains.lower())


def _matches(number: str, pattern: str) -> bool:
    digits = number.lstrip("+")
    for start in range(len(digits) - len(pattern) + 1):
        window = digits[start : start + len(pattern)]
        if all(p == "*" or p == d for p, d in zip(pattern, window, strict=True)):
            return True
    return False


def search(
    *,
    country: str,
    kind: str,
    area_code: str = "",
    contains: str = "",
    voice: bool | None = None,
    sms: bool | None = None,
    mms: bool | None = None,
) -> list[ForSale]:
    found = [number for number in INVENTORY if number.country == country and number.kind == kind]
    if area_code:
        found = [number for number in found if number.phone_number.startswith(f"+1{area_code}")]
    if contains:
        pattern = _contains_pattern(contains)
        found = [number for number in found if _matches(number.phone_number, pattern)]
    if sms is not None:
        found = [number for number in found if number.sms == sms]
    if mms is not None:
        found = [number for number in found if number.mms == mms]
    if voice is False:
        found = []
    return found
