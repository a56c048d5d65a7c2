"""TOU peak/valley pricing by a seller with household followers: model family ``tou_pricing``."""
