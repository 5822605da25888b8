"""The expert-review domain: the study's database (murals, captions, reviews, candidates, pairs, votes), the
Bradley-Terry ratings and agreement statistics, and the exports of captions and votes."""
