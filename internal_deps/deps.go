package deps
import (
_ "github.com/ory/fosite"
_ "github.com/ory/fosite/compose"
_ "github.com/jackc/pgx/v5/pgxpool"
_ "modernc.org/sqlite"
_ "github.com/gorilla/sessions"
_ "github.com/coreos/go-oidc/v3/oidc"
_ "golang.org/x/oauth2"
_ "github.com/zitadel/oidc/v3/pkg/client/rp"
_ "github.com/BurntSushi/toml"
_ "github.com/prometheus/client_golang/prometheus"
_ "github.com/prometheus/client_golang/prometheus/promhttp"
_ "golang.org/x/crypto/argon2"
_ "golang.org/x/crypto/hkdf"
_ "golang.org/x/text/language"
_ "github.com/go-jose/go-jose/v3"
)
