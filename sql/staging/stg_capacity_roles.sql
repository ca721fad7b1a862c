-- stg_capacity_roles
-- Grain: one row per capacity_roles row (a role of the go-to-market team and its weekly hours).
WITH source AS (
    SELECT * FROM capacity_roles
)

SELECT
    trim("Role")            AS role,
    trim("Function")        AS function_name,
    "Headcount"             AS headcount,
    "HoursPerWeek"          AS hours_per_week,
    "Utilization"           AS utilization
FROM source
