// pinctl: OkHttp CertificatePinner for example.com, channel okhttp.
// **.example.com (any depth) needs OkHttp 4: OkHttp 3.13 accepts it without error and pins nothing below example.com (tested); on 3.x use channel add okhttp --one-label for `*.`.
// Once the release ships, record it: pinctl --site example.com publish --channel okhttp --release LABEL
val certificatePinner = CertificatePinner.Builder()
    .add(
        "example.com",
        "sha256/K4UdoIbs9+v5MUgHRliEEXYoikMR3EJQ2MenubtLOwQ=", // primary (active)
        "sha256/uULrZnEY5LK0TOQlm8KsCiPpu06kRhwTNG2KzlQWidY=", // backup1 (backup)
        "sha256/lolsIwtTg2+y2VRLdI9arUu+sdmDQtRtSbNbQNxYK9I=", // backup2 (backup)
    )
    .add(
        "**.example.com",
        "sha256/K4UdoIbs9+v5MUgHRliEEXYoikMR3EJQ2MenubtLOwQ=", // primary (active)
        "sha256/uULrZnEY5LK0TOQlm8KsCiPpu06kRhwTNG2KzlQWidY=", // backup1 (backup)
        "sha256/lolsIwtTg2+y2VRLdI9arUu+sdmDQtRtSbNbQNxYK9I=", // backup2 (backup)
    )
    .build()
