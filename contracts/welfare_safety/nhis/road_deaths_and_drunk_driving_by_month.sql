-- 월별 사망 교통사고(도로교통공단)와 음주운전 적발(경찰청)을 나란히 놓는다.
-- Fatal road accidents (KoROAD) beside drunk-driving detections (KNPA), month by month.
-- 경찰청 자료는 공개할 때 관할경찰서를 지우고(suppress) 측정일시를 월로 일반화하므로, 적발은
-- 전국 월 단위로만 셀 수 있다. The police table is published with the station suppressed and
-- the time generalised to the month, so detections are counted nationally per month.
WITH accidents AS (
    SELECT
        year(occurred_at) AS year,
        month(occurred_at) AS month,
        count(*) AS fatal_accidents,
        CAST(sum(deaths) AS BIGINT) AS deaths,
        count(*) FILTER (WHERE day_night = '야') AS night_fatal_accidents
    FROM welfare_safety.koroad_fatal_traffic_accidents
    GROUP BY ALL
),
detections AS (
    SELECT
        CAST(left(detected_at, 4) AS INTEGER) AS year,
        CAST(right(detected_at, 2) AS INTEGER) AS month,
        count(*) AS drunk_driving_detections
    FROM welfare_safety.police_drunk_driving_detections
    GROUP BY ALL
)
SELECT
    year,
    month,
    coalesce(accidents.fatal_accidents, 0) AS fatal_accidents,
    coalesce(accidents.deaths, 0) AS deaths,
    coalesce(accidents.night_fatal_accidents, 0) AS night_fatal_accidents,
    coalesce(detections.drunk_driving_detections, 0) AS drunk_driving_detections
FROM accidents
FULL JOIN detections USING (year, month)
ORDER BY year, month
