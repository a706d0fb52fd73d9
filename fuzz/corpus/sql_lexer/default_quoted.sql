SELECT * FROM "DEFAULT"."T", Default . t2 /* default.x */ -- default.y
