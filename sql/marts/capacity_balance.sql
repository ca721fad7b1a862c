-- capacity_balance
-- Grain: one row per run: does the sales team's capacity match the demand that marketing generates
-- (seeds/001: the plan works while these two are similar).
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md K3):
--   * sales_capacity_opportunities_per_week = AE available hours per week (Headcount x HoursPerWeek x
--     Utilization, role 'AE') / AE hours per opportunity (sum of the AE's per_opportunity activities)
--   * demand_opportunities_per_week = opportunities created per week over the trailing weeks before
--     run_date (int_capacity_demand, per_opportunity, all product types)
--   * balance_ratio = demand / sales capacity (> 1: more demand than the AEs can work)
WITH ae_hours AS (
    SELECT coalesce(sum(coalesce(headcount, 0) * coalesce(hours_per_week, 0) * coalesce(utilization, 0)), 0)
        AS available_hours_per_week
    FROM stg_capacity_roles
    WHERE role = 'AE'
),

ae_hours_per_opportunity AS (
    SELECT sum(hours) AS hours_per_opportunity
    FROM stg_capacity_activities
    WHERE role = 'AE'
      AND unit = 'per_opportunity'
),

opportunity_demand AS (
    SELECT coalesce(sum(units_per_week), 0) AS opportunities_per_week
    FROM int_capacity_demand
    WHERE unit = 'per_opportunity'
),

balance AS (
    SELECT
        ae_hours.available_hours_per_week / NULLIF(ae_hours_per_opportunity.hours_per_opportunity, 0)
            AS sales_capacity_opportunities_per_week,
        opportunity_demand.opportunities_per_week
            AS demand_opportunities_per_week
    FROM ae_hours
    CROSS JOIN ae_hours_per_opportunity
    CROSS JOIN opportunity_demand
)

SELECT
    sales_capacity_opportunities_per_week,
    demand_opportunities_per_week,
    demand_opportunities_per_week / NULLIF(sales_capacity_opportunities_per_week, 0) AS balance_ratio
FROM balance
