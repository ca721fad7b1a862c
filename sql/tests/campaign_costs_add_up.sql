-- Singular test (returns the rows that break it): campaign_cohorts_weekly spreads each campaign's
-- ActualCost over its cohort weeks by members, so the weekly costs of a campaign add up to its
-- ActualCost (METRICS.md). One row per campaign whose weeks do not add up (to a cent).
WITH weekly AS (
    SELECT campaign_id, sum(cost) AS cost_over_weeks
    FROM campaign_cohorts_weekly
    GROUP BY campaign_id
)

SELECT weekly.campaign_id, weekly.cost_over_weeks, campaigns.actual_cost
FROM weekly
JOIN stg_campaigns AS campaigns
    ON campaigns.campaign_id = weekly.campaign_id
WHERE campaigns.actual_cost IS NOT NULL
  AND abs(weekly.cost_over_weeks - campaigns.actual_cost) > 0.01
