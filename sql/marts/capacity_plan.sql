-- capacity_plan
-- Grain: one row per role, for the planning horizon of var capacity_weeks weeks after run_date.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md K1-K2):
--   * available_hours = sum over the role's rows of Headcount x HoursPerWeek x Utilization, x weeks
--   * required_hours = sum over the role's activities of expected units per week (int_capacity_demand)
--     x Hours x weeks. A per_won_deal or per_opportunity activity with a ProductType counts only deals
--     of that product, one without counts them all. Product type is ignored for the other units.
--   * status: over_capacity when utilization > var capacity_over (1), balanced from var
--     capacity_balanced_min (0.7) up to it, under_used below (METRICS.md's bounds are the defaults),
--     NULL when the role has no available hours
--   * every role of capacity_roles or capacity_activities gets a row (available_hours 0 when the role
--     only appears in capacity_activities). Missing Headcount / HoursPerWeek / Utilization count as 0.
WITH role_hours AS (
    SELECT
        role,
        sum(coalesce(headcount, 0) * coalesce(hours_per_week, 0) * coalesce(utilization, 0))
            AS available_hours_per_week
    FROM stg_capacity_roles
    GROUP BY role
),

activity_hours AS (
    SELECT
        activities.role,
        sum(demand.units_per_week * activities.hours) AS required_hours_per_week
    FROM stg_capacity_activities AS activities
    JOIN int_capacity_demand AS demand
        ON demand.unit = activities.unit
       AND (activities.product_type IS NULL
            OR demand.unit NOT IN ('per_opportunity', 'per_won_deal')
            OR demand.product_type = activities.product_type)
    GROUP BY activities.role
),

all_roles AS (
    SELECT role FROM stg_capacity_roles
    UNION
    SELECT role FROM stg_capacity_activities
),

role_plan AS (
    SELECT
        all_roles.role,
        coalesce(role_hours.available_hours_per_week, 0) * {{ var('capacity_weeks') }}    AS available_hours,
        coalesce(activity_hours.required_hours_per_week, 0) * {{ var('capacity_weeks') }} AS required_hours
    FROM all_roles
    LEFT JOIN role_hours
        ON role_hours.role = all_roles.role
    LEFT JOIN activity_hours
        ON activity_hours.role = all_roles.role
),

role_utilization AS (
    SELECT
        role_plan.*,
        required_hours / NULLIF(available_hours, 0) AS utilization
    FROM role_plan
)

SELECT
    role,
    available_hours,
    required_hours,
    utilization,
    CASE
        WHEN utilization > {{ var('capacity_over') }} THEN 'over_capacity'
        WHEN utilization >= {{ var('capacity_balanced_min') }} THEN 'balanced'
        WHEN utilization < {{ var('capacity_balanced_min') }} THEN 'under_used'
    END AS status
FROM role_utilization
ORDER BY role
