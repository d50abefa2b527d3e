package FdwTest;

# FdwTest.pm
#	Helpers for the TAP tests of dynamo_fdw: a throw-away PostgreSQL (run as
#	the postgres user when the test runs as root, as PostgreSQL refuses
#	root), one-shot psql commands, and long-lived psql sessions -- one
#	backend that keeps its dynamo_fdw connections between statements, whose
#	queries can be left running (to cancel them from another session).
#
#	my $pg = FdwTest::Postgres->start;
#	my ($rc, $out, $err) = $pg->psql('SELECT 1');
#	my $s = $pg->session;
#	my ($out, $err) = $s->query('SELECT 2');
#	$s->send('SELECT pg_sleep(10)'); ...; my ($out, $err, $secs) = $s->wait_done(30);
#
#	The server is stopped at exit (also when the test dies) and its
#	directory removed, unless DYNAMO_KEEP=1 is set.  PGBIN overrides the
#	directory of initdb, pg_ctl and psql (default: pg_config --bindir).

use strict;
use warnings;

use File::Temp qw(tempdir);
use IPC::Run ();
use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest ();

my @SERVERS;

# The directory of the PostgreSQL programs.
sub pgbin
{
	return $ENV{PGBIN} if $ENV{PGBIN};
	my $dir = `pg_config --bindir`;
	chomp $dir;
	die "FdwTest: pg_config --bindir failed\n" unless $dir;
	return $dir;
}

# Run a command as the postgres user when we are root.
sub as_postgres
{
	my (@cmd) = @_;
	return $> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

END
{
	$_->stop for grep { defined } @SERVERS;
}

package FdwTest::Postgres;

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

# Start a new cluster on a free loopback port (trust authentication).
sub start
{
	my ($class) = @_;
	my $self = bless {}, $class;
	$self->{dir} = File::Temp::tempdir('dynamo-fdw-pg-XXXXXX', TMPDIR => 1,
		CLEANUP => !$ENV{DYNAMO_KEEP});
	chmod 0755, $self->{dir};
	if ($> == 0)
	{
		my (undef, undef, $uid, $gid) = getpwnam('postgres')
		  or die "FdwTest: there is no postgres user to run PostgreSQL as\n";
		chown $uid, $gid, $self->{dir};
	}
	$self->{port} = DynamoTest::free_port();
	my $bin = FdwTest::pgbin();
	my ($rc, $out, $err) = DynamoTest::run_cmd(cmd => [ FdwTest::as_postgres("$bin/initdb",
				'-D', "$self->{dir}/data", '-U', 'postgres', '--auth=trust', '--no-sync') ],
		timeout => 120);
	die "FdwTest: initdb failed: $err$out" if $rc != 0;
	($rc, $out, $err) = DynamoTest::run_cmd(cmd => [ FdwTest::as_postgres("$bin/pg_ctl",
				'-D', "$self->{dir}/data", '-l', "$self->{dir}/log", '-w',
				'-o', "-c listen_addresses=127.0.0.1 -p $self->{port} -k $self->{dir} -c fsync=off",
				'start') ],
		timeout => 60);
	die "FdwTest: pg_ctl start failed: $err$out\n" . DynamoTest::slurp("$self->{dir}/log")
	  if $rc != 0;
	$self->{running} = 1;
	push @SERVERS, $self;
	return $self;
}

sub port { $_[0]{port} }

# Stop (immediately: nothing here needs a clean shutdown).
sub stop
{
	my ($self) = @_;
	return unless $self->{running};
	DynamoTest::run_cmd(cmd => [ FdwTest::as_postgres(FdwTest::pgbin() . '/pg_ctl',
				'-D', "$self->{dir}/data", '-m', 'immediate', 'stop') ], timeout => 60);
	$self->{running} = 0;
}

# The server log, for diagnostics.
sub log_tail
{
	my ($self, $lines) = @_;
	my @l = split /\n/, DynamoTest::slurp("$self->{dir}/log");
	$lines //= 30;
	@l = @l[-$lines .. -1] if @l > $lines;
	return join('', map { "  | $_\n" } @l);
}

sub psql_cmd
{
	my ($self, @extra) = @_;
	return (FdwTest::pgbin() . '/psql', '-X', '-h', '127.0.0.1', '-p', $self->{port},
		'-U', 'postgres', '-d', 'postgres', '-A', '-t', '-q', @extra);
}

# One psql run of $sql (stopping at the first error): (rc, stdout, stderr).
sub psql
{
	my ($self, $sql, %o) = @_;
	return DynamoTest::run_cmd(cmd => [ $self->psql_cmd('-v', 'ON_ERROR_STOP=1') ],
		stdin => $sql, timeout => $o{timeout} // 60);
}

# psql that must succeed; returns stdout.
sub psql_ok
{
	my ($self, $sql, $name) = @_;
	my ($rc, $out, $err) = $self->psql($sql);
	ok($rc == 0, $name // "psql: $sql") or diag("exit $rc: $err");
	return $out;
}

# A long-lived psql session (one backend).
sub session
{
	my ($self) = @_;
	return FdwTest::Session->new($self);
}

package FdwTest::Session;

use strict;
use warnings;

use Time::HiRes qw(time sleep);

my $MARK = '__fdwtest_done__';

sub new
{
	my ($class, $pg) = @_;
	my $self = bless { in => '', out => '', err => '' }, $class;
	$self->{h} = IPC::Run::start([ $pg->psql_cmd('-v', 'ON_ERROR_STOP=0') ],
		'<', \$self->{in}, '>', \$self->{out}, '2>', \$self->{err});
	$self->{pid} = ($self->query('SELECT pg_backend_pid()'))[0];
	chomp $self->{pid};
	return $self;
}

# The session's backend pid.
sub pid { $_[0]{pid} }

# Send a statement without waiting for it.
sub send
{
	my ($self, $sql) = @_;
	# end an SQL statement (not a backslash command) with a semicolon
	my ($last) = $sql =~ /([^\n]*)\s*$/;
	$sql .= ';' unless $sql =~ /;\s*$/ || $last =~ /^\s*\\/;
	$self->{in} .= "$sql\n\\echo $MARK\n\\warn $MARK\n";
	$self->{sent} = time;
	IPC::Run::pump_nb($self->{h});
}

# Wait (at most $timeout s) for the statement sent last to finish:
# (stdout, stderr, seconds since it was sent); undef stdout on timeout.
sub wait_done
{
	my ($self, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	while ($self->{out} !~ /\Q$MARK\E\n/ || $self->{err} !~ /\Q$MARK\E\n/)
	{
		return (undef, $self->{err}, time - $self->{sent}) if time > $deadline;
		IPC::Run::pump_nb($self->{h});
		sleep 0.01;
	}
	my $secs = time - $self->{sent};
	my ($out) = $self->{out} =~ /^(.*?)\Q$MARK\E\n/s;
	my ($err) = $self->{err} =~ /^(.*?)\Q$MARK\E\n/s;
	$self->{out} =~ s/^.*?\Q$MARK\E\n//s;
	$self->{err} =~ s/^.*?\Q$MARK\E\n//s;
	return ($out, $err, $secs);
}

# Run a statement and wait for it: (stdout, stderr, seconds).
sub query
{
	my ($self, $sql, $timeout) = @_;
	$self->send($sql);
	return $self->wait_done($timeout);
}

sub DESTROY
{
	my ($self) = @_;
	return unless $self->{h};
	$self->{in} .= "\\q\n";
	eval { IPC::Run::finish($self->{h}) } or eval { IPC::Run::kill_kill($self->{h}) };
}

1;
