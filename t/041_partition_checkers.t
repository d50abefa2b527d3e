#!/usr/bin/perl
# 041_partition_checkers.t
#	Five nodes (N=3, R=W=2, WiredTiger), each in its own network namespace
#	(t/lib/Netns.pm), clients in a namespace of their own, under a nemesis
#	that mixes random halves, one node isolated, a ring and a bridge of
#	cuts, one-way cuts, kill -9 (and restart) and SIGSTOP (and SIGCONT).
#	Checkers, after the faults stop and the cluster has converged:
#	  - a grow-only set kept in one key by read-modify-write with contexts:
#	    every element whose PUT was acknowledged is in the set;
#	  - unique blind writes: every acknowledged key is readable;
#	  - the paper's divergence figure (section 6.3): the share of reads of
#	    a cart workload that saw exactly one version, healthy and under the
#	    nemesis, printed with the workload's concurrency;
#	  - always writeable (client and coordinators on the side without any
#	    of a key's owners, W=2): every PUT acknowledged (stand-ins
#	    coordinate under actors of their own), and after the heal every
#	    acknowledged value is on the owners: hints delivered, R=3 through
#	    each owner.
#
#	DYNAMO_NEMESIS_SECONDS=S runs the nemesis S seconds (default 60).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest;
use DynamoCluster qw(start_cluster wait_until wait_converged pending_hints);
use Netns;

my $NODES = 5;
my $SECS = $ENV{DYNAMO_NEMESIS_SECONDS} // 60;
my $CARTS = 20;    # 4 clients on 20 carts: a cart is rarely written by two at once
my $net = Netns->new(nodes => $NODES, clients => 2);
my @n = start_cluster($NODES, n => 3, prefix => 'k', net => $net, secure => 1);
my @addr = map { $_->addr } @n;
my $dir = DynamoTest::scratch();
my $stop = "$dir/stop";

# dynamo-cli as the admin: in namespace $CLI_NS (the test's own process
# uses the first client's), or where the calling process is (undef: a
# child that entered a client namespace).
our $CLI_NS = $net->client_ns(1);

sub cli_here
{
	my ($addr, @args) = @_;
	return DynamoTest::cli_at($addr,
		{ key => $n[0]{admin_key}, trust => $n[0]{trust}, timeout => 10, netns => $CLI_NS },
		'--timeout', '4000', @args);
}

# A child in client namespace $i running $code.
sub client_child
{
	my ($i, $code) = @_;
	return $net->run_in($net->client_ns($i), sub { local $CLI_NS = undef; $code->() });
}

# GET --json: (rc, { context, siblings => [values] }).
sub get_here
{
	my ($addr, $bucket, $key, $r) = @_;
	my ($rc, $out) = cli_here($addr, '--json', 'get', $bucket, $key, '--r', $r // 2);
	my $j = ($rc == 0 || $rc == 1) ? DynamoTest::json_decode($out) : undef;
	return ($rc, $j ? { context => $j->{context},
			values => [ map { $_->{value} } @{ $j->{siblings} // [] } ] } : undef);
}

# ------------------------------------------------------------- workloads

# Read a set of words kept in bucket/key through $a (every sibling's words:
# the union resolves a conflict), add $e, write back with the read's
# context.  Returns (versions read or undef when the read failed, whether
# the PUT was acknowledged).
sub add_to_set
{
	my ($a, $bucket, $key, $e) = @_;
	my ($rc, $g) = get_here($a, $bucket, $key);
	return (undef, 0) unless $g;
	my %set = map { $_ => 1 } map { split / / } @{ $g->{values} };
	$set{$e} = 1;
	my ($prc) = cli_here($a, 'put', $bucket, $key, join(' ', sort keys %set),
		($g->{context} ne '' ? ('--context', $g->{context}) : ()), '--w', '2');
	return (scalar @{ $g->{values} }, $prc == 0);
}

# Run $op->(i) for i = 0, 1, ... until told to stop; $op returns (a name,
# whether its write was acknowledged), and the acknowledged names go to
# $dir/$file as they are.
sub ack_worker
{
	my ($file, $op) = @_;
	open my $log, '>', "$dir/$file" or die;
	$log->autoflush(1);
	my $i = 0;
	until (-e $stop)
	{
		my ($name, $acked) = $op->($i++);
		print $log "$name\n" if $acked;
	}
}

# Grow-only set in key gset/s: add "w.i" by read-modify-write.
sub gset_worker
{
	my ($w) = @_;
	ack_worker("gset.$w", sub {
			my $e = "$w.$_[0]";
			my (undef, $acked) = add_to_set($addr[ int rand @addr ], 'gset', 's', $e);
			return ($e, $acked);
		});
}

# Unique blind writes: b/w-i, each once.
sub blind_worker
{
	my ($w) = @_;
	ack_worker("blind.$w", sub {
			my $k = "w$w-$_[0]";
			my ($rc) = cli_here($addr[ int rand @addr ], 'put', 'blind', $k, "v$k", '--w', '2');
			return ($k, $rc == 0);
		});
}

# A cart: read (count the versions seen), add an item, write back.
sub cart_worker
{
	my ($w, $carts) = @_;
	my %c = (reads => 0, one => 0, more => 0);
	my $i = 0;
	until (-e $stop)
	{
		my ($nv) = add_to_set($addr[ int rand @addr ], 'carts', 'cart' . int(rand($carts)),
			"$w." . $i++);
		next unless $nv;    # a failed read, or a new cart
		$c{reads}++;
		$c{ $nv == 1 ? 'one' : 'more' }++;
	}
	open my $fh, '>', "$dir/cart.$w" or die;
	print $fh join(' ', map { "$_=$c{$_}" } sort keys %c), "\n";
	close $fh;
}

sub start_workers
{
	my (%o) = @_;
	unlink $stop;
	my @pids;
	for my $w (1 .. ($o{gset} // 0))
	{
		push @pids, client_child(1, sub { gset_worker("g$w") });
	}
	for my $w (1 .. ($o{blind} // 0))
	{
		push @pids, client_child(1, sub { blind_worker("b$w") });
	}
	for my $w (1 .. ($o{cart} // 0))
	{
		push @pids, client_child(1, sub { cart_worker("c$w", $o{carts}) });
	}
	return @pids;
}

sub stop_workers
{
	open my $fh, '>', $stop or die;
	close $fh;
	waitpid($_, 0) for @_;
}

sub lines_of
{
	my ($glob) = @_;
	return map { split /\n/, DynamoTest::slurp($_) } glob $glob;
}

# The divergence figure of the cart workers that ran.
sub divergence
{
	my %sum = (reads => 0, one => 0, more => 0);
	for my $f (glob "$dir/cart.*")
	{
		my $line = DynamoTest::slurp($f);
		$sum{$1} += $2 while $line =~ /(\w+)=(\d+)/g;
		unlink $f;
	}
	return \%sum;
}

# --------------------------------------------------------------- nemesis

my @ids = 1 .. $NODES;

sub shuffled { return map { $_->[1] } sort { $a->[0] <=> $b->[0] } map { [ rand, $_ ] } @_ }

# One fault for about $secs seconds, then heal; returns its name.
sub fault
{
	my ($secs) = @_;
	my $kind = (qw(halves isolate ring bridge oneway kill stop))[ int rand 7 ];
	my @o = shuffled(@ids);
	if ($kind eq 'halves') { $net->cut([ @o[ 0 .. 1 ] ], [ @o[ 2 .. 4 ] ]) }
	elsif ($kind eq 'isolate') { $net->cut([ $o[0] ], [ @o[ 1 .. 4 ] ]) }
	elsif ($kind eq 'ring')
	{
		# each node reaches only its two neighbours in the order @o
		for my $i (0 .. 4)
		{
			$net->cut([ $o[$i] ], [ $o[ ($i + 2) % 5 ] ]);
		}
	}
	elsif ($kind eq 'bridge') { $net->cut([ @o[ 0 .. 1 ] ], [ @o[ 3 .. 4 ] ]) }
	elsif ($kind eq 'oneway') { $net->cut_oneway($o[0], $_) for @o[ 1 .. 2 ] }
	elsif ($kind eq 'kill') { $n[ $o[0] - 1 ]->kill9; $n[ $o[0] - 1 ]{timeout} = 60 }
	elsif ($kind eq 'stop') { kill 'STOP', $n[ $o[0] - 1 ]->pid }
	sleep $secs;
	if ($kind eq 'kill') { $n[ $o[0] - 1 ]->restart }
	elsif ($kind eq 'stop') { kill 'CONT', $n[ $o[0] - 1 ]->pid }
	else { $net->heal }
	return $kind eq 'kill' || $kind eq 'stop' ? "$kind k$o[0]" : $kind;
}

# Heal everything, let hints drain and anti-entropy run once everywhere.
sub settle
{
	$net->heal;
	for my $node (@n) { $node->restart unless $node->alive }
	wait_converged(\@n, 60) or diag('the cluster did not converge after the nemesis');
	wait_until(60, sub { !grep { pending_hints($_) > 0 } @n })
	  or diag('hints still pending after 60 s');
	$_->cli({ timeout => 120 }, 'repair') for @n;
}

# ------------------------------------------------------------------- run

# the healthy divergence figure first
{
	my @p = start_workers(cart => 4, carts => $CARTS);
	sleep 15;
	stop_workers(@p);
	my $d = divergence();
	diag(sprintf("divergence, healthy: %d cart reads by 4 clients on $CARTS carts, %.2f%% saw one "
			  . 'version, %.2f%% more (paper: 99.94%% one version)', $d->{reads},
			$d->{reads} ? 100 * $d->{one} / $d->{reads} : 0,
			$d->{reads} ? 100 * $d->{more} / $d->{reads} : 0));
	ok($d->{reads} > 0, 'the cart workload read carts');
}

# the nemesis, with every workload at once
{
	my @p = start_workers(gset => 2, blind => 2, cart => 2, carts => $CARTS);
	my $end = time + $SECS;
	my @faults;
	while (time < $end)
	{
		push @faults, fault(2 + rand 3);
		sleep 1;
	}
	stop_workers(@p);
	diag("nemesis: " . scalar(@faults) . " faults in ${SECS} s: @faults");
	my $d = divergence();
	diag(sprintf("divergence, under the nemesis: %d cart reads by 2 clients on $CARTS carts, "
			  . '%.2f%% saw one version, %.2f%% more', $d->{reads},
			$d->{reads} ? 100 * $d->{one} / $d->{reads} : 0,
			$d->{reads} ? 100 * $d->{more} / $d->{reads} : 0));
	settle();
}

# grow-only set: every acknowledged element is in the set
{
	my @acked = lines_of("$dir/gset.*");
	my $g;
	wait_until(30, sub { (undef, $g) = get_here($addr[0], 'gset', 's', 3); defined $g });
	my %set = map { $_ => 1 } map { split / / } @{ $g ? $g->{values} : [] };
	my @lost = grep { !$set{$_} } @acked;
	diag(sprintf('grow-only set: %d elements acknowledged, %d in the set (%d versions), %d lost%s',
			scalar @acked, scalar keys %set, $g ? scalar @{ $g->{values} } : 0, scalar @lost,
			@lost ? ": @lost[0 .. ($#lost < 9 ? $#lost : 9)]" : ''));
	ok(@acked > 0, 'the grow-only set got acknowledged additions');
	is(scalar @lost, 0, 'grow-only set: no acknowledged element lost');
}

# unique blind writes: every acknowledged key is readable at R=3
{
	my @acked = lines_of("$dir/blind.*");
	my @lost;
	my $pid = client_child(1, sub {
			open my $fh, '>', "$dir/blind.lost" or die;
			for my $k (@acked)
			{
				my ($rc, $g) = get_here($addr[ int rand @addr ], 'blind', $k, 3);
				($rc, $g) = get_here($addr[ int rand @addr ], 'blind', $k, 2) unless $rc == 0;
				print $fh "$k\n" unless $g && grep { $_ eq "v$k" } @{ $g->{values} };
			}
			close $fh;
		});
	waitpid($pid, 0);
	@lost = lines_of("$dir/blind.lost");
	diag(sprintf('unique blind writes: %d acknowledged, %d found, %d lost%s', scalar @acked,
			@acked - @lost, scalar @lost, @lost ? ": @lost[0 .. ($#lost < 9 ? $#lost : 9)]" : ''));
	ok(@acked > 0, 'blind writes were acknowledged');
	is(scalar @lost, 0, 'unique blind writes: no acknowledged write lost');
}

# always writeable: the client and two nodes on one side, all three owners
# of the key on the other
{
	my $pl = DynamoCluster::preflist($n[0], 'aw', 'key');
	my %owner = map { $_->{id} => 1 } grep { $_->{replica} } @{ $pl->{nodes} // [] };
	my @own = grep { $owner{"k$_"} } @ids;
	my @other = grep { !$owner{"k$_"} } @ids;
	SKIP: {
		skip 'could not read the preference list', 3 unless @own == 3 && @other == 2;
		$net->cut(\@own, [ @other, 'c2' ]);
		# the coordinators on the client's side judge every owner down (the
		# detection takes 1-3 s; requests before it wait out a timeout first)
		my $seen = wait_until(10, sub {
				!grep { my $o = $_; grep { DynamoCluster::status_of($n[ $_ - 1 ], "k$o") ne 'down' } @other } @own });
		diag(sprintf('always writeable: every owner judged down on the client\'s side after %s',
				defined $seen ? sprintf('%.1f s', $seen) : 'more than 10 s'));
		my $ok = 0;
		my $tries = 5;
		my $why = '';
		my $pid = client_child(2, sub {
				my $good = 0;
				my $msg = '';
				for my $i (1 .. $tries)
				{
					my ($rc, $out, $err) = cli_here($addr[ $other[ $i % 2 ] - 1 ], 'put', 'aw',
						'key', "v$i", '--w', '2');
					$good++ if $rc == 0;
					$msg = $err if $rc != 0;
				}
				open my $fh, '>', "$dir/aw" or die;
				print $fh "$good\n$msg";
				close $fh;
			});
		waitpid($pid, 0);
		($ok, $why) = split /\n/, DynamoTest::slurp("$dir/aw"), 2;
		$net->heal;
		diag(sprintf('always writeable: %d of %d PUTs (W=2) acknowledged with every owner cut off%s',
				$ok, $tries, $ok < $tries ? " ($why)" : ''));
		is($ok, $tries, 'always writeable with every owner cut off');
		my $t0 = time;
		my $delivered = defined wait_until(30, sub { !grep { pending_hints($_) > 0 } @n });
		diag(sprintf('always writeable: hints %s %.1f s after the heal',
				$delivered ? 'delivered' : 'still pending', time - $t0));
		ok($delivered, 'the stand-ins handed the writes to the owners');
		my @missing;
		for my $o (@own)
		{
			my ($rc, $g) = get_here($addr[ $o - 1 ], 'aw', 'key', 3);
			my %have = map { $_ => 1 } @{ $g ? $g->{values} : [] };
			push @missing, map { "k$o:v$_" } grep { !$have{"v$_"} } 1 .. $ok;
		}
		is("@missing", '', 'after the heal every acknowledged value is read at R=3 through each owner');
	}
}

done_testing();
