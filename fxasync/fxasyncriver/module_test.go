package fxasyncriver

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// With and without fxshutdown, the stop drains the scheduler, then stops
// River, then closes the database: every task submitted before the stop is
// written, and no job is left. In the wrong order, fast paths would find
// River stopped or the database closed, and leave jobs behind.
func TestModuleStopsAfterTheDrainAndBeforeTheDatabase(t *testing.T) {
	for _, withShutdown := range []bool{false, true} {
		t.Run(fmt.Sprintf("fxshutdown=%v", withShutdown), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			var k *Kind[effect]
			opts := []fx.Option{
				fx.NopLogger,
				fx.Supply(zap.NewNop()),
				fx.Provide(func(lc fx.Lifecycle) (*sql.DB, error) {
					db, err := openSQLite(path)
					lc.Append(fx.StopHook(db.Close))
					return db, err
				}),
				fxasync.Module,
				Module,
				fx.Invoke(func(h *HandOff, s *fxasync.Scheduler) {
					write := writeEffect(SQLite)
					k = Register(h, s, func(ctx context.Context, tx *sql.Tx, e effect) error {
						time.Sleep(2 * time.Millisecond) // still running when the stop begins
						return write(ctx, tx, e)
					})
				}),
			}
			if withShutdown {
				opts = append(opts, fxshutdown.Module)
			}
			app := fxtest.New(t, opts...)
			app.RequireStart()
			for i := range 100 {
				require.NoError(t, k.Submit(context.Background(), effect{Key: fmt.Sprint(i)}))
			}
			app.RequireStop()

			db, err := openSQLite(path)
			require.NoError(t, err)
			defer db.Close()
			rows, distinct := effects(t, db)
			assert.Equal(t, 100, rows)
			assert.Equal(t, 100, distinct)
			assert.Zero(t, unfinished(t, db))
		})
	}
}

// Without a *slog.Logger in the graph, River and the hand-off log through
// the graph's *zap.Logger, named "river", warnings and above.
func TestModuleLogsThroughZap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	require.NoError(t, leaveHostileJobs(t, path, 1).Close())

	obs, logs := observer.New(zap.DebugLevel)
	app := fxtest.New(t, fx.NopLogger, fx.Supply(zap.New(obs).Named("app")),
		fx.Provide(func(lc fx.Lifecycle) (*sql.DB, error) {
			db, err := openSQLite(path)
			lc.Append(fx.StopHook(db.Close))
			return db, err
		}),
		fxasync.Module, Module,
		fx.Invoke(func(h *HandOff, s *fxasync.Scheduler) { Register(h, s, writeEffect(SQLite)) }))
	app.RequireStart()
	app.RequireStop()
	warn := logs.FilterMessageSnippet("jobs of kinds not registered here").All()
	require.Len(t, warn, 1)
	assert.Equal(t, "app.river", warn[0].LoggerName)
	assert.Equal(t, zap.WarnLevel, warn[0].Level)
	assert.Equal(t, int64(1), warn[0].ContextMap()["jobs"])
}
