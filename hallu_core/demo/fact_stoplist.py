"""Names of big geonames cities that prove nothing when an answer says them, kept out of the "city"
candidates by `fact_sources.big_cities`: English words an answer may capitalise ("Mobile", "Reading",
"Independence Day"), regions, islands and landmarks that bear a city's name ("Bali", "Mount Fuji",
"Suez Canal", "Gold Coast", "Westminster"), people's names ("Lincoln", "Charlotte", "Vladimir") and
US states. Only the big-city additions are filtered: the capitals and the hand-picked cities of
`fact_sources.CITIES` stay candidates whatever their name ("Nice", "Georgetown").
"""
from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(n.strip() for n in text.replace("\n", " ").split(",") if n.strip())


US_STATES = _names("""Alabama, Alaska, Arizona, Arkansas, California, Colorado, Connecticut, Delaware, Florida,
Georgia, Hawaii, Idaho, Illinois, Indiana, Iowa, Kansas, Kentucky, Louisiana, Maine, Maryland, Massachusetts,
Michigan, Minnesota, Mississippi, Missouri, Montana, Nebraska, Nevada, New Hampshire, New Jersey, New Mexico,
New York, North Carolina, North Dakota, Ohio, Oklahoma, Oregon, Pennsylvania, Rhode Island, South Carolina,
South Dakota, Tennessee, Texas, Utah, Vermont, Virginia, Washington, West Virginia, Wisconsin, Wyoming""")
WORDS = _names("""Archway, Bade, Balsas, Barking, Bath, Bender, Billings, Bimbo, Bole, Boulder, Brusque, Buffalo,
Centennial, Centurion, Chandler, Chinatown, Commonwealth, Concord, Corona, Cypress, Davenport, Delta, Derby,
Enterprise, Garland, Guadalupe, Harrow, Honcho, Independence, Jingling, Kota, Lander, Latina, Libertad, Mango,
Mantilla, Mascara, Mesa, Mesquite, Metro, Midland, Mobile, Natal, Newton, Of, Oral, Orange, Paradise, Pare, Pest,
Pueblo, Queens, Reading, Riverside, Ruse, Saga, Sale, Samba, Sari, Savannah, Serra, Shaping, Simmering, Slough,
Split, Springs, Surprise, Surrey, Tours, Vista, Warder, Woodlands,
Borough Park, Business Bay, Central Coast, College Station, Deer Valley, Grand Prairie, High Point,
International City, Model Town, North Shore, Spring Valley, Sunset Park, Sunshine Coast, Universal City,
Upper West Side""")
PLACES = _names("""Bali, Brits, Carolina, Chihuahua, Formosa, Fuji, Gaza, Gilbert, Gold Coast, Kikuyu, Malacca,
Masai, New Territories, Okinawa, Ontario, Orkney, Parana, Paraná, Quebec, Rio Grande, Rosetta, Saint Peters,
Santa Catarina, Suez, Victoria, Waterloo, Westminster, Windsor""")
PEOPLE = _names("""Ajax, Alexandra, Aurora, Austin, Batman, Brandon, Brent, Cary, Carnot, Charlotte, Chico,
Clovis, Columbia, Columbus, Constantine, Dali, Darwin, Edison, Elizabeth, Engels, Eugene, Everett, George,
Hamilton, Hassan, Henderson, Hitachi, Irving, Jackson, Kara, Kennedy, Kent, Lafayette, Lincoln, Madison, Mary,
Medea, Milton, Moreno, Moro, Nancy, Nigel, Norman, Quezon, Richardson, Rodriguez, San Martin, San Martín,
Santana, Santos, Sutton, Timon, Toyota, Tyler, Vladimir""")
NOT_A_BIG_CITY = US_STATES | WORDS | PLACES | PEOPLE
