# 003_security.t
#	Authenticated, encrypted connections on real processes (DESIGN.md
#	section 1, the security issue): who may connect, what each role may
#	do, what the node refuses at start, what dynamo-cli and dynamod keygen
#	write, that the traffic on the wire shows neither keys nor values
#	(against an --insecure node as the capture's own control), and that a
#	handshake that never comes or garbage instead of one cost the node
#	nothing.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h _exit);
use Time::HiRes qw(time sleep);

use DynamoTest qw(bin cli_at free_port json_decode run_cmd keygen write_trust raw_connect);

my $dir = tempdir('dynamo-sec-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});

# Client keys, each with its role in the node's trust file (or none).
my %pub;
for my $who (qw(reader writer admin2 nodekey stranger))
{
	$pub{$who} = keygen("$dir/$who.key");
}
my $node = DynamoTest::Node->start(
	engine => 'memory',
	secure => 1,
	trust  => [
		[ $pub{reader},  'read',  'reader' ],
		[ $pub{writer},  'write', 'writer' ],
		[ $pub{admin2},  'admin', 'admin2' ],
		[ $pub{nodekey}, 'node',  'n99' ],
	]);

# The node's log from a given offset, for "and it logged ..." checks.
sub log_since
{
	my ($off) = @_;
	my $all = DynamoTest::slurp($node->{log});
	return substr($all, $off);
}
sub log_size { return length DynamoTest::slurp($node->{log}) }

subtest 'a secure node says so' => sub {
	my $st = $node->status;
	is($st->{security}, 'authenticated', 'status reports security "authenticated"');
	is($st->{public_key}, $node->{pubkey}, 'and the node\'s public key');
	like(DynamoTest::slurp($node->{log}), qr/authenticated and encrypted: node key \Q$node->{pubkey}\E/,
		'the start-up log names the node key');
};

subtest 'a client without a trusted key can neither read nor write' => sub {
	$node->put_ok('sec', 'k', 'admin wrote this');
	my $off = log_size();
	my ($rc, $out, $err) = $node->cli_as("$dir/stranger.key", 'get', 'sec', 'k');
	is($rc, 4, 'get with an unknown key exits 4');
	like($err, qr/not (authorised|trusted)/i, 'and says it is not trusted') or diag($err);
	unlike($out, qr/admin wrote this/, 'and prints no value');
	($rc, undef, $err) = $node->cli_as("$dir/stranger.key", 'put', 'sec', 'k', 'intruder');
	is($rc, 4, 'put with an unknown key exits 4');
	($rc, undef, $err) = $node->cli_as("$dir/stranger.key", 'status');
	is($rc, 4, 'even status with an unknown key exits 4');
	my $g = $node->get('sec', 'k');
	is_deeply([ map { $_->{value} } @{ $g->{siblings} } ], ['admin wrote this'],
		'nothing was written by the unknown key');
	like(log_since($off), qr/refused connection from 127\.0\.0\.1:\d+: key \Q$pub{stranger}\E is not in the trust file/,
		'the node logs the refusal with the peer address and the public key');

	($rc, $out, $err) = cli_at($node->addr, 'get', 'sec', 'k');
	is($rc, 4, 'a plaintext (--insecure) client exits 4');
	like($err, qr/authenticated connections only.*--key/, 'and is told to use a key') or diag($err);
	unlike($out, qr/admin wrote this/, 'and gets no value');
	ok($node->alive, 'the node is still running');
};

subtest 'a read key may read but not write' => sub {
	my $key = "$dir/reader.key";
	my ($rc, $out, $err) = $node->cli_as($key, 'get', 'sec', 'k');
	is($rc, 0, 'get with a read key exits 0') or diag($err);
	like($out, qr/admin wrote this/, 'and prints the value');
	($rc, $out, $err) = $node->cli_as($key, 'status');
	is($rc, 0, 'status with a read key exits 0') or diag($err);

	my $off = log_size();
	($rc, undef, $err) = $node->cli_as($key, 'put', 'sec', 'k', 'reader wrote this');
	is($rc, 4, 'put with a read key exits 4 (not authorised)');
	like($err, qr/not authorised: put needs role write or admin.*role read/,
		'and says which role it would need') or diag($err);
	($rc, undef, $err) = $node->cli_as($key, 'delete', 'sec', 'k');
	is($rc, 4, 'delete with a read key exits 4');
	my $g = $node->get('sec', 'k');
	is_deeply([ map { $_->{value} } @{ $g->{siblings} } ], ['admin wrote this'],
		'the value is unchanged');
	my $log = log_since($off);
	like($log, qr/refused put from 127\.0\.0\.1:\d+ \(key "reader" \Q$pub{reader}\E, role read\)/,
		'the node logs the refused put with the key\'s name and public key');
	like($log, qr/refused delete from .*"reader"/, 'and the refused delete');
	cmp_ok($node->status->{requests}{unauthorized}, '>=', 3, 'status counts the refusals');
};

subtest 'a write key may write, read and delete' => sub {
	my $key = "$dir/writer.key";
	my ($rc, $out, $err) = $node->cli_as($key, 'put', 'sec', 'w', 'writer wrote this');
	is($rc, 0, 'put with a write key exits 0') or diag($err);
	chomp $out;
	($rc, my $gout, $err) = $node->cli_as($key, 'get', 'sec', 'w');
	is($rc, 0, 'get with a write key exits 0') or diag($err);
	like($gout, qr/writer wrote this/, 'and reads the value back');
	($rc, undef, $err) = $node->cli_as($key, 'delete', 'sec', 'w', '--context', $out);
	is($rc, 0, 'delete with a write key exits 0') or diag($err);
	is($node->get('sec', 'w')->{rc}, 1, 'the key is gone');
	($rc, undef, $err) = $node->cli_as("$dir/admin2.key", 'put', 'sec', 'a', 'admin2');
	is($rc, 0, 'an admin key (from the trust file) writes too') or diag($err);
};

subtest 'node keys: a client refuses an untrusted node; a node key is not a client' => sub {
	# the client's trust file does not list the node at all
	write_trust("$dir/trust.nonode", [ [ $pub{writer}, 'write', 'writer' ] ]);
	my ($rc, $out, $err) = $node->cli_as("$dir/writer.key", { trust => "$dir/trust.nonode" },
		'get', 'sec', 'k');
	is($rc, 4, 'a node whose key is not in the client\'s trust file: exit 4');
	like($err, qr/node's key \Q$node->{pubkey}\E is not in the trust file/, 'and says so') or diag($err);

	# it lists the node's key, but as a client role: the role check refuses it
	write_trust("$dir/trust.asadmin", [ [ $node->{pubkey}, 'admin', 'impostor' ] ]);
	($rc, $out, $err) = $node->cli_as("$dir/writer.key", { trust => "$dir/trust.asadmin" },
		'put', 'sec', 'k', 'never sent');
	is($rc, 4, 'a node key trusted as admin, not as node: exit 4');
	like($err, qr/trusted as admin "impostor", not as a node/, 'and says so') or diag($err);
	is_deeply([ map { $_->{value} } @{ $node->get('sec', 'k')->{siblings} } ], ['admin wrote this'],
		'the refused client sent nothing');

	# a key with role node may not use the client operations
	my $off = log_size();
	($rc, undef, $err) = $node->cli_as("$dir/nodekey.key", 'put', 'sec', 'k', 'from a node key');
	is($rc, 4, 'a node-role key cannot put (exit 4)');
	($rc, undef, $err) = $node->cli_as("$dir/nodekey.key", 'get', 'sec', 'k');
	is($rc, 4, 'nor get');
	($rc, undef, $err) = $node->cli_as("$dir/nodekey.key", 'status');
	is($rc, 0, 'but may ask for status') or diag($err);
	like(log_since($off), qr/refused put from .*"n99" \Q$pub{nodekey}\E, role node/,
		'the node logs it with the key');
};

subtest 'a secure client against an --insecure node' => sub {
	my $plain = DynamoTest::Node->start(engine => 'memory');
	write_trust("$dir/trust.plain", [ [ $pub{nodekey}, 'node', 'x' ] ]);
	my ($rc, undef, $err) = cli_at($plain->addr, { key => "$dir/writer.key", trust => "$dir/trust.plain" },
		'get', 'b', 'k');
	is($rc, 4, 'exit 4');
	like($err, qr/answered in plaintext.*--insecure/, 'and is told the node is plaintext') or diag($err);
	ok($plain->alive, 'the plaintext node is unharmed');
	$plain->stop;
};

subtest 'dynamod refuses unusable key and trust files at start, naming file and line' => sub {
	my $d = tempdir('dynamo-bad-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $nk = keygen("$d/node.key");
	write_trust("$d/trust", [ [ $nk, 'node', 'n1' ] ]);
	my $port = free_port();
	my @base = (bin('dynamod'), '--id', 'bad', '--data', "$d/data", '--listen', "127.0.0.1:$port",
		'--engine', 'memory');
	my $refused = sub {
		my ($what, $args, $why) = @_;
		my ($rc, undef, $err) = run_cmd(cmd => [ @base, @$args ], timeout => 10, cwd => $d);
		ok($rc > 0 && $rc < 128, "$what: refused with a plain non-zero exit") or diag("exit $rc: $err");
		like($err, $why, "$what: says why") or diag($err);
	};
	my ($rc, undef, $err) = run_cmd(cmd => [ @base, '--key', "$d/node.key", '--trust', "$d/trust" ],
		timeout => 3, cwd => $d);
	is($rc, -1, 'the good files start a node (it runs until killed)') or diag($err);

	chmod 0644, "$d/node.key";
	$refused->('a key file others may read', [ '--key', "$d/node.key", '--trust', "$d/trust" ],
		qr/key file "\Q$d\E\/node\.key" has loose permissions \(mode 0644\).*chmod 600/);
	chmod 0640, "$d/node.key";
	$refused->('a key file the group may read', [ '--key', "$d/node.key", '--trust', "$d/trust" ],
		qr/loose permissions \(mode 0640\)/);
	chmod 0600, "$d/node.key";

	chmod 0666, "$d/trust";
	$refused->('a trust file others may write', [ '--key', "$d/node.key", '--trust', "$d/trust" ],
		qr/trust file "\Q$d\E\/trust" has loose permissions \(mode 0666\).*writable/);
	chmod 0664, "$d/trust";
	$refused->('a trust file the group may write', [ '--key', "$d/node.key", '--trust', "$d/trust" ],
		qr/loose permissions \(mode 0664\)/);
	chmod 0644, "$d/trust";

	open my $fh, '>', "$d/trust.bad" or die;
	print $fh "# cluster\n$nk node n1\n$nk noder n2\n";
	close $fh;
	$refused->('a trust line with an unknown role', [ '--key', "$d/node.key", '--trust', "$d/trust.bad" ],
		qr/\Q$d\E\/trust\.bad:3: unknown role "noder"/);
	open $fh, '>', "$d/trust.bad2" or die;
	print $fh "$nk node n1\n\n# next line is cut short\n" . substr($nk, 0, 30) . " read r\n";
	close $fh;
	$refused->('a trust line with a cut key', [ '--key', "$d/node.key", '--trust', "$d/trust.bad2" ],
		qr/trust\.bad2:4: .* is not a public key/);
	open $fh, '>', "$d/trust.bad3" or die;
	print $fh "$nk node\n";
	close $fh;
	$refused->('a trust line without a name', [ '--key', "$d/node.key", '--trust', "$d/trust.bad3" ],
		qr/trust\.bad3:1: missing name/);

	open $fh, '>', "$d/bad.key" or die;
	print $fh "dynamo-secret-key-v1\nnot a key\n";
	close $fh;
	chmod 0600, "$d/bad.key";
	$refused->('a malformed key file', [ '--key', "$d/bad.key", '--trust', "$d/trust" ],
		qr/bad\.key:2: the secret key is not/);
	$refused->('a missing key file', [ '--key', "$d/nope.key", '--trust', "$d/trust" ],
		qr/could not open key file .*nope\.key/);
	$refused->('--key without --trust', [ '--key', "$d/node.key" ], qr/--trust/);
	$refused->('--insecure with --key', [ '--key', "$d/node.key", '--trust', "$d/trust", '--insecure' ],
		qr/--insecure cannot be combined/);
	$refused->('neither', [], qr/--key FILE and --trust FILE.*--insecure/);
};

subtest 'keygen writes 0600 key files and never overwrites one' => sub {
	my $d = tempdir('dynamo-keygen-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	for my $prog ([ 'dynamod', 'keygen' ], [ 'dynamo-cli', 'keygen' ])
	{
		my $f = "$d/$prog->[0].key";
		my ($rc, $out, $err) = run_cmd(cmd => [ bin($prog->[0]), $prog->[1], '--out', $f ]);
		is($rc, 0, "$prog->[0] keygen exits 0") or diag($err);
		like($out, qr/^[A-Za-z0-9_-]{43}\n\z/, "$prog->[0] keygen prints a 43-character public key");
		is((stat $f)[2] & 07777, 0600, "$prog->[0] keygen writes the key with mode 0600");
		my $before = DynamoTest::slurp($f);
		($rc, undef, $err) = run_cmd(cmd => [ bin($prog->[0]), $prog->[1], '--out', $f ]);
		isnt($rc, 0, "$prog->[0] keygen refuses an existing file");
		like($err, qr/already exists/, 'and says so');
		is(DynamoTest::slurp($f), $before, 'the existing key is unchanged');
	}
	my ($rc, undef, $err) = run_cmd(cmd => [ bin('dynamo-cli'), 'keygen' ]);
	is($rc, 2, 'dynamo-cli keygen without --out is a usage error');
	chmod 0644, "$dir/writer.key";
	($rc, undef, $err) = $node->cli_as("$dir/writer.key", 'get', 'sec', 'k');
	is($rc, 2, 'dynamo-cli refuses a key file others may read (exit 2)');
	like($err, qr/loose permissions/, 'and says why');
	chmod 0600, "$dir/writer.key";
};

subtest 'no handshake, or garbage instead of one, costs the node nothing' => sub {
	my $s = raw_connect($node->port) or return fail("connect: $!");
	my $t0 = time;
	my $closed = DynamoTest::wait_closed($s, 10);
	my $took = time - $t0;
	ok($closed, 'a connection that never sends a handshake is closed');
	cmp_ok($took, '<', 8, sprintf('within the handshake deadline (%.1f s)', $took));
	close $s;

	$s = raw_connect($node->port) or return fail("connect: $!");
	syswrite($s, "DYNS\x01\0\0\0" . ("\xAA" x 64) . ('z' x 500));
	ok(DynamoTest::wait_closed($s, 5), 'a bad ephemeral key and garbage: closed at once');
	close $s;
	like(DynamoTest::slurp($node->{log}), qr/no handshake within 5000 ms/, 'the timeout is logged');
	ok($node->alive, 'the node is still running');
	my ($rc, undef, $err) = $node->cli('status');
	is($rc, 0, 'and answers') or diag($err);
};

subtest 'the wire shows neither bucket, key nor value (tcpdump; --insecure as control)' => sub {
	my $tcpdump = (grep { -x } map { "$_/tcpdump" } split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/bin')[0];
	plan skip_all => 'tcpdump is not installed' unless $tcpdump;
	my $tag = sprintf('%08x', int(rand(2**32)));
	my ($bucket, $key, $value) = ("bkt$tag", "key$tag", "secret-value-$tag-do-not-show");

	# Capture loopback traffic on the node's port while a value is written
	# and read; returns the raw pcap bytes, or undef (and the reason) when
	# tcpdump cannot capture here.
	my $capture = sub {
		my ($n) = @_;
		my @ok;
		my @r = DynamoTest::capture_loopback([ $n->port ], "$dir/cap-" . $n->port . '.pcap', sub {
			my ($rc, $out, $err) = $n->cli('put', $bucket, $key, $value);
			push @ok, $rc == 0 ? 1 : diag("put: $err");
			($rc, $out, $err) = $n->cli('get', $bucket, $key);
			push @ok, ($rc == 0 && index($out, $value) >= 0) ? 1 : diag("get: $err");
		});
		is(scalar(grep { $_ } @ok), 2, 'the put and the get worked during the capture (port ' . $n->port . ')')
		  if defined $r[0];
		return @r;
	};

	my ($plain_cap, $why) = do {
		my $plain = DynamoTest::Node->start(engine => 'memory');
		my @r = $capture->($plain);
		$plain->stop;
		@r;
	};
	plan skip_all => $why if !defined $plain_cap;
	cmp_ok(length $plain_cap, '>', 24, 'the control capture recorded packets');
	ok(index($plain_cap, $value) >= 0, 'control: the --insecure capture contains the value in clear');
	ok(index($plain_cap, $bucket) >= 0, 'control: and the bucket');
	ok(index($plain_cap, $key) >= 0, 'control: and the key');

	my ($sec_cap) = $capture->($node);
	ok(defined $sec_cap && length $sec_cap > 24, 'the secure capture recorded packets');
	ok(index($sec_cap, 'DYNS') >= 0, 'it holds the handshake (so the capture saw the connection)');
	is(index($sec_cap, $value), -1, 'the secure capture does not contain the value');
	is(index($sec_cap, $bucket), -1, 'nor the bucket');
	is(index($sec_cap, $key), -1, 'nor the key');
	is(index($sec_cap, $tag), -1, 'nor any part of them');
};

ok($node->alive, 'the node survived the whole test');
is($node->stop, 0, 'and stops cleanly on SIGTERM');

done_testing();
