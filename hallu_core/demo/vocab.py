"""Fixed vocabularies of the demo world.

Each value belongs to exactly one card field, and no value contains another
field's value as a word: that is what lets the oracle type a mention by its
surface form alone.
"""

CITIES = (
    "Lindor", "Varesh", "Oskalo", "Brenmoor", "Tessaly", "Quorin", "Halvik", "Marisk",
    "Dunhollow", "Elbrecht", "Faywick", "Gorvane", "Ishtal", "Kelmar", "Nethra", "Pellow",
    "Rindale", "Savonne", "Tarrow", "Ulmsted", "Vantor", "Westerly", "Yarrowby", "Zelhaven",
    "Ambrel", "Corvath", "Drennick", "Esterhal", "Ferrant", "Galmoor",
)

PROFESSIONS = (
    "astronomer", "architect", "botanist", "cartographer", "chemist", "clockmaker",
    "economist", "engineer", "geologist", "glassblower", "historian", "illustrator",
    "journalist", "linguist", "mathematician", "novelist", "painter", "pharmacist",
    "photographer", "pilot", "poet", "sculptor", "surgeon", "violinist", "archivist",
    "beekeeper", "composer", "translator",
)

EMPLOYERS = (
    "Halcyon Observatory", "Brightwater Institute", "Kestrel Press", "Orrin Laboratories",
    "Solace Museum", "Thistle Works", "Amberline Railways", "Northwind Shipping",
    "Copperfield Bank", "Greyfen Hospital", "Silverbirch Academy", "Larkspur Theatre",
    "Redcliff Foundry", "Bluefin Aerospace", "Mosswood Archives", "Ironvale Mining",
    "Starling Gazette", "Willowmere College", "Hollis & Crane", "Duskfall Studios",
    "Quillon Publishing", "Mariner Trust", "Oakhaven Clinic", "Tidewater Surveys",
)

SPOUSES = (
    "Ilsa Marrow", "Doran Vell", "Mira Castellan", "Tobin Ashgrove", "Wren Halloway",
    "Petra Lune", "Cassian Orme", "Elda Fairweather", "Noor Kessling", "Alma Penhallow",
    "Bram Oakley", "Selka Dunmore", "Ivo Raskin", "Lira Westcott", "Faron Belmont",
    "Tamsin Greave", "Odile Marchant", "Rurik Stenholm", "Ysolde Farrow", "Gideon Pike",
    "Maren Holt", "Corin Vance", "Nessa Brightwell", "Oren Falk", "Hedda Lorne",
    "Emric Sallow", "Vesna Korr", "Aldo Brune",
)

AWARDS = (
    "Aster Medal", "Golden Quill Prize", "Verity Award", "Lanternlight Prize", "Orrery Medal",
    "Silver Compass Award", "Halden Prize", "Meridian Medal", "Corona Fellowship",
    "Bellwether Prize", "Juniper Award", "Starfall Medal",
)

# Entity names are two or three of these glued together, so they look alike
# but share no word with the vocabularies above.
NAME_SYLLABLES = (
    "ka", "lo", "mir", "dan", "ve", "ro", "sil", "tha", "bre", "nor", "el", "ith", "zen",
    "mo", "ra", "fen", "dor", "li", "an", "ves", "tor", "ul", "gar", "is", "qua",
    "sar", "vin", "ot", "bel", "tam",
)

BIRTH_YEARS = range(1920, 2000)

# Card field -> the values it can take. Entity names are per world (see World.vocab).
FIELD_VOCAB = {
    "birth_city": CITIES,
    "profession": PROFESSIONS,
    "employer": EMPLOYERS,
    "spouse": SPOUSES,
    "award": AWARDS,
}
