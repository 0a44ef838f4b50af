"""The ShopRight catalogue, carriers and warehouses shared by every task."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float


_RAW = """
HOM-10482-BLK|Aeron-style Ergonomic Office Chair, Black|furniture|389.00
HOM-10482-GRY|Aeron-style Ergonomic Office Chair, Grey|furniture|389.00
HOM-20315-OAK|Solid Oak Standing Desk 140cm|furniture|549.00
HOM-20877-WHT|Minimalist Bookshelf 5-Tier, White|furniture|129.99
KIT-30112-BMB|Bamboo Cutting Board Set (3 pcs)|kitchen|34.95
KIT-30440-SS|Stainless Steel Cookware Set 10-Piece|kitchen|219.00
KIT-31007-RED|Enameled Cast Iron Dutch Oven 5.5qt, Cherry Red|kitchen|89.50
KIT-31290-BLK|Burr Coffee Grinder with 40 Settings|kitchen|74.99
KIT-31555-CHR|Espresso Machine with Milk Frother|kitchen|299.00
ELE-40021-BLK|Noise-Cancelling Wireless Headphones|electronics|179.00
ELE-40388-WHT|Smart Speaker Mini, Chalk White|electronics|49.99
ELE-40733-SLV|4K Streaming Stick with Voice Remote|electronics|39.99
ELE-41102-BLK|27-inch QHD Monitor, 165Hz|electronics|279.99
ELE-41560-GRN|Portable Bluetooth Speaker, Waterproof, Forest Green|electronics|59.95
ELE-41804-BLK|Mechanical Keyboard, Brown Switches|electronics|119.00
OUT-50210-BLU|2-Person Backpacking Tent, Lake Blue|outdoor|159.00
OUT-50677-ORG|Insulated Water Bottle 32oz, Orange|outdoor|27.99
OUT-51033-GRN|Down Sleeping Bag -5C|outdoor|199.00
OUT-51490-BLK|Trekking Poles Carbon (pair)|outdoor|69.00
APP-60114-M|Merino Wool Crew Sweater, Size M|apparel|89.00
APP-60114-L|Merino Wool Crew Sweater, Size L|apparel|89.00
APP-60520-32|Selvedge Denim Jeans, Waist 32|apparel|98.00
APP-60961-9|Trail Running Shoes, US 9|apparel|134.95
APP-60961-10|Trail Running Shoes, US 10|apparel|134.95
APP-61207-S|Packable Rain Jacket, Size S|apparel|119.00
BTY-70018-50|Vitamin C Serum 50ml|beauty|32.00
BTY-70455-KIT|Beard Grooming Kit|beauty|45.00
BTY-70823-PNK|Ionic Hair Dryer, Blush Pink|beauty|79.99
TOY-80077-ST|STEM Robotics Building Kit|toys|64.99
TOY-80419-PZ|1000-Piece Jigsaw Puzzle, Alpine Lake|toys|21.99
TOY-80862-WD|Wooden Train Set 52 Pieces|toys|54.00
PET-90125-L|Orthopedic Dog Bed, Large|pets|109.00
PET-90560-CT|Automatic Cat Feeder with Camera|pets|149.00
GDN-91203-GRN|Raised Garden Bed Kit, Cedar|garden|139.00
GDN-91644-BLK|Cordless Leaf Blower 40V|garden|189.00
"""

PRODUCTS: tuple[Product, ...] = tuple(
    Product(sku, name, cat, float(price))
    for sku, name, cat, price in (line.split("|") for line in _RAW.strip().splitlines())
)
CARRIERS = ("UPS", "FedEx", "USPS")
WAREHOUSES = ("RNO1", "ATL2", "EWR1", "DFW3", "ORD1", "PHX2")
SUPPLIERS = (
    ("SUP-1042", "Nordic Home Goods AB"),
    ("SUP-2210", "Pacific Kitchenware Ltd"),
    ("SUP-3307", "Shenzhen Brightline Electronics"),
    ("SUP-4419", "Cascade Outdoor Supply"),
    ("SUP-5583", "Atlas Apparel Co."),
    ("SUP-6620", "PetWell Manufacturing"),
)


def product(rng: random.Random) -> Product:
    return PRODUCTS[rng.randrange(len(PRODUCTS))]


def short_name(p: Product) -> str:
    """How a customer would name the product in a message."""
    return p.name.split(",")[0].split(" (")[0]
