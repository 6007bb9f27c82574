-- 서울의 일평균 미세먼지(서울특별시)와 같은 날 전국 화력 발전량(한국전력거래소, 연료원별)을 잇는다.
-- Seoul's daily particulate averages (Seoul) beside the same day's thermal generation by fuel
-- across the country (KPX).
WITH air AS (
    SELECT
        measured_on AS day,
        round(avg(pm10_ugm3), 1) AS pm10_ugm3,
        round(avg(pm25_ugm3), 1) AS pm25_ugm3,
        count(*) AS stations
    FROM environment_energy.seoul_daily_air_quality
    GROUP BY measured_on
),
power AS (
    SELECT
        trade_date AS day,
        CAST(sum(generation_mwh) FILTER (WHERE fuel = '석탄') AS BIGINT) AS coal_mwh,
        CAST(sum(generation_mwh) FILTER (WHERE fuel = 'LNG') AS BIGINT) AS lng_mwh,
        CAST(sum(generation_mwh) FILTER (WHERE fuel = '유류') AS BIGINT) AS oil_mwh,
        CAST(sum(generation_mwh) AS BIGINT) AS thermal_mwh
    FROM environment_energy.regional_power_generation_by_fuel
    GROUP BY trade_date
)
SELECT day, pm10_ugm3, pm25_ugm3, stations, coal_mwh, lng_mwh, oil_mwh, thermal_mwh
FROM air
JOIN power USING (day)
ORDER BY day
